"""The Simplified Chinese catalogue: complete, consistent with its compiled form, and used.

The catalogue is read with a small parser of our own (no polib in the project). To refresh
it after adding strings: ``make messages``, translate the new entries, ``make messages``.
"""

from __future__ import annotations

import gettext
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import translation
from pytest_django import Settings

from gonghui.errors import DomainError
from gonghui.hardship.services import check_causes
from tests.factories import PASSWORD, Province

LOCALE_DIR = Path(__file__).resolve().parents[1] / "src" / "gonghui" / "locale"
MESSAGES = LOCALE_DIR / "zh_Hans" / "LC_MESSAGES"
PO_PATH = MESSAGES / "django.po"
MO_PATH = MESSAGES / "django.mo"

# %(name)s, %(count)d, %s, %d, %% and {name}: what must survive translation unchanged.
PLACEHOLDER = re.compile(r"%(?:\([^)]+\))?[-#0 +]*\d*(?:\.\d+)?[sdifr%]|\{\w*\}")
TAG = re.compile(r"</?[a-zA-Z][^>]*>")
CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False


ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _unquote(text: str) -> str:
    text = text.strip()
    assert text.startswith('"') and text.endswith('"'), text
    return re.sub(r"\\(.)", lambda m: ESCAPES.get(m.group(1), m.group(0)), text[1:-1])


def parse_po(path: Path) -> list[Entry]:
    """Entries of a PO file, the header (msgid "") first. Enough of the format for
    what makemessages writes: flags, contexts, plurals, multi-line strings."""
    entries: list[Entry] = []
    current = Entry()
    target: tuple[str, int] | None = None
    started = False

    def finish() -> None:
        nonlocal current, started, target
        if started:
            entries.append(current)
        current, started, target = Entry(), False, None

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#~"):
            current.obsolete = True
            continue
        if line.startswith("#,"):
            current.flags.update(flag.strip() for flag in line[2:].split(","))
            continue
        if line.startswith("#"):
            continue
        match = re.match(r"(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(\".*\")$", line)
        if match:
            if match.group(1) in ("msgctxt", "msgid") and target and target[0] == "msgstr":
                finish()  # a new entry without a blank line before it
            keyword, index, text = match.group(1), match.group(2), _unquote(match.group(3))
            started = True
            if keyword.startswith("msgstr"):
                target = ("msgstr", int(index or 0))
                current.msgstr[target[1]] = text
            else:
                target = (keyword, 0)
                setattr(current, keyword, text)
            continue
        assert line.startswith('"') and target is not None, f"cannot parse: {raw!r}"
        if target[0] == "msgstr":
            current.msgstr[target[1]] += _unquote(line)
        else:
            setattr(current, target[0], (getattr(current, target[0]) or "") + _unquote(line))
    finish()
    return [entry for entry in entries if not entry.obsolete]


def messages() -> list[Entry]:
    return [entry for entry in parse_po(PO_PATH) if entry.msgid]


def header() -> dict[str, str]:
    first = parse_po(PO_PATH)[0]
    assert first.msgid == ""
    lines = (line.split(":", 1) for line in first.msgstr[0].splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in lines}


def _name(entry: Entry) -> str:
    return f"{entry.msgctxt}|{entry.msgid}" if entry.msgctxt else entry.msgid


# --- the catalogue itself ---------------------------------------------------------------


def test_the_header_declares_chinese_in_utf8_with_one_plural_form() -> None:
    head = header()
    assert head["Language"] == "zh_Hans"
    assert "charset=UTF-8" in head["Content-Type"]
    assert head["Plural-Forms"].replace(" ", "") == "nplurals=1;plural=0;"
    assert "fuzzy" not in parse_po(PO_PATH)[0].flags


def test_every_message_is_translated_and_none_is_fuzzy() -> None:
    entries = messages()
    assert len(entries) > 500  # the parser found the catalogue, not a stub
    fuzzy = [_name(e) for e in entries if "fuzzy" in e.flags]
    empty = [_name(e) for e in entries if not all(text.strip() for text in e.msgstr.values())]
    plural_forms = [_name(e) for e in entries if e.msgid_plural and sorted(e.msgstr) != [0]]
    assert not fuzzy, f"fuzzy entries: {fuzzy}"
    assert not empty, f"untranslated entries: {empty}"
    assert not plural_forms, f"Chinese has one plural form, msgstr[0] only: {plural_forms}"


def test_placeholders_and_tags_are_kept() -> None:
    wrong = []
    for entry in messages():
        for text in entry.msgstr.values():
            if entry.msgid_plural is None:
                same = sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(entry.msgid))
            else:
                # One form serves every count: it needs the names either English form uses.
                wanted = set(PLACEHOLDER.findall(entry.msgid)) | set(
                    PLACEHOLDER.findall(entry.msgid_plural)
                )
                same = set(PLACEHOLDER.findall(text)) == wanted
            same = same and sorted(TAG.findall(text)) == sorted(TAG.findall(entry.msgid))
            if not same:
                wrong.append((entry.msgid, text))
    assert not wrong, wrong


def test_the_translations_are_chinese() -> None:
    """A message with a word in it has a translation with at least one hanzi."""
    has_words = (e for e in messages() if re.search("[A-Za-z]", PLACEHOLDER.sub("", e.msgid)))
    latin_only = [e.msgid for e in has_words if not CJK.search(e.msgstr[0])]
    assert not latin_only, latin_only


def test_the_compiled_catalogue_matches_the_po_file() -> None:
    """mtimes are not kept by git, so compare contents: every entry of the .po must come
    out of the .mo as written. A stale .mo fails here; run ``make messages``."""
    with MO_PATH.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for entry in messages():
        expected = entry.msgstr[0]
        if entry.msgid_plural is not None:
            got = [compiled.ngettext(entry.msgid, entry.msgid_plural, n) for n in (1, 2)]
            if got != [expected, expected]:
                stale.append(entry.msgid)
        elif entry.msgctxt is not None:
            if compiled.pgettext(entry.msgctxt, entry.msgid) != expected:
                stale.append(entry.msgid)
        elif compiled.gettext(entry.msgid) != expected:
            stale.append(entry.msgid)
    assert not stale, f"django.mo is out of date for: {stale}"


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext is not installed")
def test_the_catalogue_has_every_string_of_the_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    """Run makemessages on a copy of the package, as ``make messages`` does, and compare."""
    package = LOCALE_DIR.parent
    copy = tmp_path / "gonghui"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    settings.LOCALE_PATHS = [copy / "locale"]
    monkeypatch.chdir(copy)
    call_command(
        "makemessages",
        locale=["zh_Hans"],
        no_location=True,
        no_obsolete=True,
        ignore_patterns=[".venv", "benchmarks", "tests"],
        verbosity=0,
    )
    fresh = {_name(e) for e in parse_po(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")}
    fresh.discard("")
    ours = {_name(e) for e in messages()}
    assert not fresh - ours, f"new strings, run `make messages` and translate: {fresh - ours}"
    assert not ours - fresh, f"strings no longer in the source, run `make messages`: {ours - fresh}"


# --- the catalogue in use ----------------------------------------------------------------


def test_pages_are_chinese_by_default_and_english_on_request(province: Province) -> None:
    client = Client()
    assert client.login(username=province.alice.username, password=PASSWORD)
    page = client.get("/").content.decode()
    assert '<html lang="zh-hans">' in page
    assert "待办事项" in page and "工会职工服务平台" in page
    assert "Work queue" not in page

    client.cookies["django_language"] = "en"
    page = client.get("/").content.decode()
    assert '<html lang="en">' in page
    assert "Work queue" in page and "Union Worker Services" in page
    assert "待办事项" not in page


def test_a_service_refusal_speaks_the_active_language() -> None:
    with translation.override("zh-hans"), pytest.raises(DomainError) as refused:
        check_causes(6, [1, 2, 3, 4])
    assert str(refused.value) == "次要致困原因最多三项。"
    assert refused.value.field == "secondary_causes"

    with translation.override("en"), pytest.raises(DomainError) as refused:
        check_causes(6, [1, 2, 3, 4])
    assert str(refused.value) == "At most three secondary causes."
