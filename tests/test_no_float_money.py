"""No float anywhere near money: the assistance app's source is scanned for ``float``
(a call, a type, an isinstance test), float literals and ``FloatField``.

Money there is integer fen, converted at the edges with Decimal (``money.py``). A float
cannot hold 0.1 exactly, so 0.1 + 0.2 yuan is not 0.3 yuan: one such sum in a ledger and
the balances no longer reconcile to the fen.

Allowed by name in ``ALLOWED``, each for a reason that has nothing to do with an amount.
"""

from __future__ import annotations

import ast
from pathlib import Path

import gonghui.assistance

APP = Path(gonghui.assistance.__file__).parent

ALLOWED: dict[tuple[str, str], str] = {
    # The share of a budget paid out, shown as a percentage on the fund pages; a ratio
    # for display, computed from integer fen and never stored nor added to money.
    ("ledger.py", "execution_rate"): "display ratio",
    # The guard that refuses a float where money is converted (it names the type to
    # reject it).
    ("money.py", "to_fen"): "refuses floats",
    # A numeric spreadsheet cell arrives from openpyxl as a float; it is turned at once
    # into the decimal text Excel shows (its shortest repr), never used as a number.
    ("bankfiles.py", "cell_text"): "spreadsheet cell to text",
}


def offences(source: str, filename: str) -> list[str]:
    """Every float in ``source`` (file ``filename`` of the app) that is not allowed."""
    found: list[str] = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        what = None
        if isinstance(node, ast.Name) and node.id in {"float", "FloatField"}:
            what = node.id
        elif isinstance(node, ast.Attribute) and node.attr == "FloatField":
            what = "FloatField"
        elif isinstance(node, ast.Constant) and isinstance(node.value, float):
            what = f"float literal {node.value!r}"
        if what and (Path(filename).name, function) not in ALLOWED:
            found.append(f"{filename}:{getattr(node, 'lineno', 0)} in {function or '-'}: {what}")
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(ast.parse(source, filename=filename), "")
    return found


def test_no_float_near_money() -> None:
    sources = sorted(APP.rglob("*.py"))
    assert len(sources) > 5
    problems = [
        problem
        for path in sources
        for problem in offences(path.read_text(encoding="utf-8"), str(path.relative_to(APP)))
    ]
    assert problems == [], "floats in the assistance app:\n" + "\n".join(problems)


def test_the_scan_finds_what_it_looks_for() -> None:
    code = (
        "from django.db import models\n"
        "def total(fen: int) -> float:\n"
        "    return float(fen) * 0.01\n"
        "amount = models.FloatField()\n"
        "def execution_rate() -> float:\n"  # allowed by name in ledger.py only
        "    return 1 / 2\n"
    )
    found = [problem.split(": ", 1)[1] for problem in offences(code, "ledger.py")]
    assert sorted(found) == ["FloatField", "float", "float", "float literal 0.01"]
    assert len(offences(code, "planning.py")) == 5
