"""`gonghui schedule`: the daily jobs run once a day without anyone typing a command — a
second run the same day builds nothing, two runs never overlap, one failing job does not
stop the others."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from gonghui import scheduling
from gonghui.accounts.choices import Role
from gonghui.supervision.models import Digest
from tests.factories import Province, user
from tests.locks import held_elsewhere

DAY = datetime.date(2026, 3, 10)
# The province's staff: alice, bob, rita, carl, gina, charlie, leo, audrey, adam.
STAFF = 9


def schedule(*args: str) -> str:
    out = io.StringIO()
    call_command("schedule", *args, stdout=out)
    return out.getvalue()


def test_the_daily_run_builds_every_digest_once(province: Province) -> None:
    user("wendy", Role.WORKER, province.yaohai)  # a worker's account gets no digest
    first = schedule("--date", DAY.isoformat())
    assert f"digest: {STAFF} digests built for 2026-03-10." in first
    assert Digest.objects.filter(day=DAY).count() == STAFF
    stamps = dict(Digest.objects.values_list("user_id", "created_at"))
    # The timer fires again the same day: nothing new, nothing rebuilt.
    again = schedule("--date", DAY.isoformat())
    assert "digest: 0 digests built for 2026-03-10." in again
    assert dict(Digest.objects.values_list("user_id", "created_at")) == stamps
    # A staff account made later that day gets its digest on the next run, and only it.
    user("dora", Role.CASE_WORKER, province.yaohai)
    assert "digest: 1 digest built for 2026-03-10." in schedule("--date", DAY.isoformat())
    assert Digest.objects.filter(day=DAY).count() == STAFF + 1


def test_two_runs_do_not_overlap(province: Province) -> None:
    with held_elsewhere(scheduling.LOCK_NAME):
        out = schedule("--date", DAY.isoformat())
        assert "Another scheduled run is in progress; nothing done." in out
        assert not Digest.objects.exists()
    # The other run has ended: the lock is free again.
    assert f"digest: {STAFF} digests built" in schedule("--date", DAY.isoformat())


def test_a_run_that_fails_leaves_no_lock_behind(province: Province) -> None:
    with pytest.raises(RuntimeError), scheduling.exclusive(scheduling.LOCK_NAME) as held:
        assert held
        raise RuntimeError("the run died")
    with scheduling.exclusive(scheduling.LOCK_NAME) as again:
        assert again


def test_a_failing_job_does_not_stop_the_others_and_fails_the_command(
    province: Province, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(day: datetime.date) -> str:
        raise ValueError("the mail server is down")

    jobs = [scheduling.DailyJob("mail", "mail the digests", broken), *scheduling.daily_jobs()]
    monkeypatch.setattr(scheduling, "daily_jobs", lambda: jobs)
    with pytest.raises(CommandError, match="1 scheduled jobs failed: mail"):
        schedule("--date", DAY.isoformat())
    assert Digest.objects.filter(day=DAY).count() == STAFF  # the digest still ran


def test_it_lists_its_jobs_and_defaults_to_today(province: Province) -> None:
    assert schedule("--list").startswith("digest\t")
    schedule()
    assert Digest.objects.filter(day=timezone.localdate()).count() == STAFF
