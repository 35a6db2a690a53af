"""Aid batch benchmark: approving and paying 100,000 assistance lines, set-based.

Target (issue 3): approving and paying a batch of 100,000 assistance lines finishes within
10 times the time of a bare bulk insert of the same rows, in the same run.

    .venv/bin/python benchmarks/bench_aid_batch.py                      # SQLite, 100,000 lines
    .venv/bin/python benchmarks/bench_aid_batch.py --database postgres  # a throwaway PostgreSQL
    .venv/bin/python benchmarks/bench_aid_batch.py --lines 10000        # quicker

What it does: migrates a fresh database (SQLite in a temporary file under benchmarks/out/, or
a throwaway PostgreSQL 15 through scripts/postgres.sh, as bench_pages does), builds a county
with a reviewer, a fund officer and a fund that needs no hardship file, N recipients with a
bank card each and N planned cash lines (bulk_create and INSERT … SELECT: this is set-up,
not measured). Then, in the same run:

(a) baseline: a bare ``AssistanceLine.objects.bulk_create`` of N rows like those (the
    objects are built before the clock starts; the rows are deleted afterwards);
(b) the real work, through the services every caller uses: ``planning.approve_lines`` on
    all N lines, ``payments.create_batch``, ``payments.export_batch`` (CSV, GB18030) and
    ``payments.import_result`` of a bank result file saying every payment succeeded (the
    file is generated between the steps, off the clock, in the messy form banks send: GBK,
    a title row, amounts with thousands separators).

Afterwards it checks the outcome: every line paid, every payment paid, the budget's paid
money equal to the batch total, and the ledger rebuilt entry by entry equal to the balance
derived in SQL. Output: a table of the steps with their statements, then the JSON line
with ``times_bulk_insert`` = (b) / (a) and ``target_met`` = (b) <= 10 x (a).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common import log, progress, result_line, self_peak_mb, table

PROJECT = Path(__file__).resolve().parents[1]
TARGET_TIMES = 10
SLOWEST = 3  # statements shown per step, the first place to look when a step is slow
YEAR = 2026
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红建国"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--lines", type=int, default=100_000, help="assistance lines")
    parser.add_argument(
        "--data-dir", type=Path, default=PROJECT / "benchmarks" / "out", help="work files"
    )
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file afterwards")
    return parser.parse_args(argv)


# --- the database -----------------------------------------------------------------------------


@contextmanager
def database(args: argparse.Namespace) -> Iterator[str]:
    work = args.data_dir / "aid_batch"
    work.mkdir(parents=True, exist_ok=True)
    if args.database == "postgres":
        sys.path.insert(0, str(Path(__file__).parent))
        from pagebench.databases import postgres_server

        with postgres_server(work) as url:
            yield url
        return
    directory = Path(tempfile.mkdtemp(prefix="sqlite-", dir=work))
    try:
        yield f"sqlite:///{directory / 'bench.sqlite3'}"
    finally:
        if args.keep:
            log(f"kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)


def setup_django(url: str, data_dir: Path) -> None:
    os.environ.update(
        {
            "DATABASE_URL": url,
            "GONGHUI_DATA_DIR": str(data_dir),
            "DJANGO_SETTINGS_MODULE": "gonghui.settings",
            "DEBUG": "false",
        }
    )
    import django
    from django.core.management import call_command

    django.setup()
    log("migrating")
    call_command("migrate", verbosity=0, interactive=False)


# --- the data -------------------------------------------------------------------------------


class World:
    """A county with its people, a fund with a budget, recipients with cards, planned lines."""

    def __init__(self, lines: int) -> None:
        from gonghui.accounts.choices import Role
        from gonghui.accounts.models import User
        from gonghui.assistance import funds
        from gonghui.assistance.choices import AidKind, FundSource
        from gonghui.organisations.choices import OrganisationKind, RegionLevel
        from gonghui.organisations.models import Organisation, Region

        province_region = Region.objects.create(
            code="340000", name="安徽省", level=RegionLevel.PROVINCE
        )
        city_region = Region.objects.create(
            code="340100", name="合肥市", level=RegionLevel.CITY, parent=province_region
        )
        self.region = Region.objects.create(
            code="340102", name="瑶海区", level=RegionLevel.COUNTY, parent=city_region
        )
        province = Organisation.objects.create(
            name="安徽省总工会", kind=OrganisationKind.PROVINCE, region=province_region
        )
        self.county = Organisation.objects.create(
            name="瑶海区总工会", kind=OrganisationKind.COUNTY, parent=province, region=self.region
        )

        def staff(username: str, role: str) -> User:
            return User.objects.create_user(
                username=username, password=None, role=role, organisation=self.county
            )

        self.planner = staff("planner", Role.CASE_WORKER)
        self.reviewer = staff("reviewer", Role.REVIEWER)
        self.officer = staff("officer", Role.FUND_OFFICER)
        self.fund = funds.define_fund(
            self.officer,
            code="SWN-BENCH",
            name="送温暖资金",
            source=FundSource.HOLIDAY,
            purposes=[AidKind.LIVING, AidKind.HOLIDAY_VISIT],
            requires_file=False,
        )
        self.budget = funds.open_budget(self.officer, self.fund, self.county, YEAR)
        self.lines = lines

    def amount_fen(self, index: int) -> int:
        """500.00 to 2,950.50 yuan, with fen, so that sums and files are not trivial."""
        return 500_00 + (index % 50) * 49_01

    def build(self) -> None:
        from gonghui.assistance import funds

        self.workers_and_cards()
        self.planned_lines()
        total = sum(self.amount_fen(i) for i in range(self.lines))
        funds.receive(self.officer, self.budget, total + 1_000_00, memo="bench")

    def workers_and_cards(self) -> None:
        from stdnum import luhn

        from gonghui.assistance.models import BankAccount
        from gonghui.people.choices import Sex
        from gonghui.people.idnumber import make_id_number
        from gonghui.people.models import Worker

        born = datetime.date(1970, 1, 1)
        chunk = 10_000
        for start in progress(range(0, self.lines, chunk), desc="recipients", unit="10k"):
            workers = []
            for i in range(start, min(start + chunk, self.lines)):
                birth = born + datetime.timedelta(days=i // 1000)
                number = make_id_number(self.region.code, birth, i % 1000)
                name = (
                    SURNAMES[i % 20]
                    + GIVEN[(i // 20) % len(GIVEN)]
                    + GIVEN[(i // 600) % len(GIVEN)]
                )
                sex = Sex.MALE if int(number[16]) % 2 else Sex.FEMALE
                workers.append(
                    Worker(
                        id_number=number,
                        name=name,
                        sex=sex,
                        birth_date=birth,
                        region=self.region,
                        organisation=self.county,
                    )
                )
            Worker.objects.bulk_create(workers, batch_size=2000)
            cards = []
            for worker in workers:
                body = f"622202{worker.pk:012d}"
                cards.append(
                    BankAccount(
                        worker=worker,
                        bank_name="中国工商银行",
                        account_number=body + luhn.calc_check_digit(body),
                        holder_name=worker.name,
                    )
                )
            BankAccount.objects.bulk_create(cards, batch_size=2000)

    def line_values(self) -> dict[str, Any]:
        from gonghui.assistance.choices import AidKind, LineStatus
        from gonghui.organisations.choices import OrganisationKind

        return {
            "organisation_id": self.county.pk,
            "year": YEAR,
            "kind": AidKind.LIVING,
            "cash": True,
            "cap_rule": "manual",
            "description": "春节送温暖",
            "fund_id": self.fund.pk,
            "status": LineStatus.PLANNED,
            "needs_level": OrganisationKind.COUNTY,
            "created_by_id": self.planner.pk,
        }

    def planned_lines(self) -> None:
        """One planned line per recipient, copied inside the database."""
        from django.db.models import F, JSONField, Value
        from django.db.models.functions import Mod, Now

        from gonghui.assistance.ledger import insert_select
        from gonghui.assistance.models import AssistanceLine
        from gonghui.people.models import Worker

        log("planned lines")
        constants = {f"c_{k}": Value(v) for k, v in self.line_values().items()}
        amount = Value(500_00) + Mod(F("id") - Value(1), Value(50)) * Value(49_01)
        select = (
            Worker.objects.annotate(
                **constants,
                c_amount=amount,
                c_proposed=amount,
                c_params=Value({}, output_field=JSONField()),
                c_blank=Value(""),
                c_now=Now(),
                c_now2=Now(),
            )
            .values(
                "id",
                *constants,
                "c_amount",
                "c_proposed",
                "c_params",
                "c_blank",
                "c_now",
                "c_now2",
            )
            .order_by("id")
        )
        columns = ["worker_id", *self.line_values(), "amount_fen", "proposed_fen"]
        columns += ["cap_params", "failure_reason", "created_at", "updated_at"]
        inserted = insert_select(AssistanceLine, columns, select)
        assert inserted == self.lines, inserted


# --- measuring -----------------------------------------------------------------------------


class Step:
    def __init__(self, name: str, seconds: float, statements: int, note: str = "") -> None:
        self.name, self.seconds, self.statements, self.note = name, seconds, statements, note


def timed(name: str, work: Callable[[], Any]) -> tuple[Any, Step]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = work()
        seconds = time.perf_counter() - started
    log(f"{name}: {seconds:.2f}s, {len(queries)} statements")
    slowest = sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:SLOWEST]
    for query in slowest:
        log(f"  {query['time']}s  {query['sql'][:300]}")
    return result, Step(name, seconds, len(queries))


def baseline(world: World) -> Step:
    """A bare bulk_create of N lines like the planned ones; deleted afterwards."""
    from django.db import connection

    from gonghui.assistance.models import AssistanceLine
    from gonghui.people.models import Worker

    workers = list(Worker.objects.order_by("id").values_list("id", flat=True))
    values = world.line_values()
    objects = [
        AssistanceLine(
            worker_id=worker,
            amount_fen=world.amount_fen(i),
            proposed_fen=world.amount_fen(i),
            **values,
        )
        for i, worker in enumerate(workers)
    ]
    first = (AssistanceLine.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    _created, step = timed(
        "baseline: bulk_create", lambda: AssistanceLine.objects.bulk_create(objects)
    )
    # Off the clock: the rows go, and PostgreSQL gets its statistics back.
    table_name = connection.ops.quote_name(AssistanceLine._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table_name} WHERE id >= %s", [first])
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    return step


def bank_result(batch: Any) -> bytes:
    """What the bank sends back when every transfer went through: GBK, a title row, the
    header in the bank's words, amounts with thousands separators."""
    from gonghui.assistance.models import Payment
    from gonghui.assistance.money import format_fen

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["批量代发结果", "", "", "", "", ""])
    writer.writerow(["明细号", "户名", "账号", "交易金额(元)", "处理结果", "银行流水号"])
    rows = Payment.objects.filter(batch=batch).order_by("id")
    for pk, name, card, fen in rows.values_list(
        "pk", "payee_name", "account_number", "amount_fen"
    ).iterator(5000):
        writer.writerow([pk, name, card, format_fen(fen), "交易成功", f"B{pk:012d}"])
    return out.getvalue().encode("gb18030")


def the_work(world: World) -> list[Step]:
    from gonghui.assistance import payments, planning
    from gonghui.assistance.models import AssistanceLine
    from gonghui.audit.context import acting_as

    steps = []
    planned = AssistanceLine.objects.filter(fund=world.fund, status="planned")
    with acting_as(world.reviewer, "cli"):
        approved, step = timed(
            "approve_lines", lambda: planning.approve_lines(world.reviewer, planned)
        )
    assert approved.count == world.lines, approved
    steps.append(step)
    with acting_as(world.officer, "cli"):
        batched, step = timed(
            "create_batch", lambda: payments.create_batch(world.officer, world.fund)
        )
        assert batched.count == world.lines and batched.without_card == 0, batched
        steps.append(step)
        exported, step = timed(
            "export_batch (csv)",
            lambda: payments.export_batch(world.officer, batched.batch, "csv"),
        )
        step.note = f"{len(exported[1]) / 2**20:.1f} MB"
        steps.append(step)
        result = bank_result(batched.batch)
        report, step = timed(
            "import_result",
            lambda: payments.import_result(world.officer, batched.batch, "result.csv", result),
        )
        assert (report.rows, report.paid, report.rejected) == (world.lines, world.lines, [])
        steps.append(step)
    return steps


def check(world: World) -> dict[str, Any]:
    """Every line and payment paid; the ledger reconciles, entry by entry."""
    from gonghui.assistance.choices import LedgerKind
    from gonghui.assistance.ledger import balance_of, rebuild
    from gonghui.assistance.models import AssistanceLine, LedgerEntry, Payment

    lines = AssistanceLine.objects.filter(fund=world.fund)
    assert lines.exclude(status="paid").count() == 0
    assert Payment.objects.exclude(status="paid").count() == 0
    balance = balance_of(world.budget)
    total = sum(world.amount_fen(i) for i in range(world.lines))
    assert (balance.committed, balance.paid, balance.available) == (0, total, 1_000_00), balance
    entries = LedgerEntry.objects.filter(budget=world.budget).order_by("id")
    assert rebuild(entries.iterator(10_000)) == balance
    pays = LedgerEntry.objects.filter(kind=LedgerKind.PAY).count()
    assert pays == world.lines, pays
    return {"paid_fen": balance.paid, "ledger_entries": entries.count()}


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    with database(args) as url:
        setup_django(url, args.data_dir)
        world = World(args.lines)
        world.build()
        log(f"set-up done in {time.monotonic() - started:.0f}s")
        base = baseline(world)
        steps = the_work(world)
        facts = check(world)
    work_seconds = sum(step.seconds for step in steps)
    times = work_seconds / base.seconds
    rows = [(s.name, f"{s.seconds:.3f}", s.statements, s.note) for s in [base, *steps]]
    rows.append(("approve + pay (b)", f"{work_seconds:.3f}", sum(s.statements for s in steps), ""))
    print(f"aid batch, {args.lines:,} lines, {args.database}")
    print(table(["step", "seconds", "statements", ""], rows))
    print(
        f"(b) / (a) = {times:.2f} times the bare bulk insert "
        f"(target <= {TARGET_TIMES}): {'met' if times <= TARGET_TIMES else 'NOT met'}"
    )
    print(
        result_line(
            "aid_batch",
            work_seconds,
            base.seconds,
            peak_mb=round(self_peak_mb(), 1),
            database=args.database,
            lines=args.lines,
            times_bulk_insert=round(times, 3),
            target_times=TARGET_TIMES,
            target_met=times <= TARGET_TIMES,
            steps={s.name: round(s.seconds, 3) for s in steps},
            statements={s.name: s.statements for s in [base, *steps]},
            **facts,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
