"""Hardship files with everything around them: lines, visit with its photos, timeline,
readings, periodic reviews, follow-ups.

For each planned file: choose the causes, make the family fit them, lay out the dates,
compose income and expenses for a target, then let the real rules decide. What is stored
(per-capita income, proposed category, decision trace, policy snapshot) is exactly what
:func:`gonghui.hardship.services.assess` would store for those lines on that day; a
periodic review stores what :func:`gonghui.hardship.services.periodic_review` would (the
lines re-assessed under the standard of the review's day, the category following the
result, a follow-up when the category changed).
"""

from __future__ import annotations

import dataclasses
import datetime
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Model

from gonghui.hardship import rules
from gonghui.hardship.choices import (
    SUDDEN_EVENT_CAUSES,
    EventKind,
    ExitKind,
    FileStatus,
    FollowUpStatus,
    HardshipCategory,
)
from gonghui.hardship.models import (
    Attachment,
    ExpenseLine,
    FileEvent,
    FollowUp,
    HardshipFile,
    IncomeLine,
    IncomeReading,
    Investigation,
    PeriodicReview,
    Policy,
)
from gonghui.hardship.services import FOLLOWED_EXITS, add_months, policy_snapshot
from gonghui.supervision.followups import REVIEW_PURPOSE
from gonghui.supervision.models import FollowUpPlan, FollowUpReason

from . import anhui, media, plans, timeline
from .crews import Crew
from .events import REASSESSING, Event, Reading, history, stamp
from .finances import Finances, Line, compose
from .households import Member
from .plans import Plan
from .staff import User
from .timeline import Steps
from .workers import Person
from .writer import Sink

Status = FileStatus
TWO_PLACES = Decimal("0.01")


@dataclass
class Decision:
    money: Finances
    result: rules.Assessment
    terms: rules.PolicyTerms
    sudden: bool = False  # a cause is a sudden event (illness, disaster, accident)
    category: str = ""  # the category it was filed under, for filed and later files


@dataclass(frozen=True)
class ReviewDone:
    """A periodic review as services.periodic_review records it."""

    due: datetime.date
    done: datetime.date
    reviewer: User
    previous: str
    result: rules.Assessment
    terms: rules.PolicyTerms
    note: str


RECIPES: dict[str, Callable[[random.Random, datetime.date], Steps]] = {
    Status.DRAFT: timeline.draft,
    Status.INVESTIGATED: timeline.investigated,
    Status.REVIEWED: timeline.reviewed,
    Status.FILED: timeline.filed,
}


@dataclass(frozen=True)
class Story:
    """The words on a file: visit findings, rejection reason, how it left the file."""

    findings: str
    rejection: str
    exit_kind: str
    exit_reason: str


@dataclass
class Cast:
    """The people acting on one file."""

    creator: User
    submitter: User
    investigator: User
    reviewer: User
    approver: User


@dataclass(eq=False)
class FileMaker:
    rng: random.Random
    today: datetime.date
    policy: Policy
    sink: Sink
    numbers: dict[str, int] = field(default_factory=dict)
    _terms: dict[tuple[str, int], rules.PolicyTerms] = field(default_factory=dict)
    _snapshots: dict[tuple[rules.PolicyTerms, datetime.date], dict[str, Any]] = field(
        default_factory=dict
    )

    # --- policy ------------------------------------------------------------------------

    def terms(self, county: str, day: datetime.date) -> rules.PolicyTerms:
        city = county[:4] + "00"
        year = min(max(day.year, anhui.STANDARD_YEARS[0]), anhui.STANDARD_YEARS[-1])
        key = (city, year)
        if key not in self._terms:
            self._terms[key] = self.policy.terms(anhui.CITY_BY_CODE[city].standard(year))
        return self._terms[key]

    def snapshot(self, terms: rules.PolicyTerms, day: datetime.date) -> dict[str, Any]:
        """services.policy_snapshot, remembered: many files share a city and a day."""
        key = (terms, day)
        if key not in self._snapshots:
            self._snapshots[key] = policy_snapshot(terms, self.policy, day)
        return self._snapshots[key]

    # --- one file ------------------------------------------------------------------------

    def make(
        self,
        household: int,
        head: Person,
        members: list[Member],
        plan: Plan,
        goal: str,
        causes: tuple[int, list[int]],
        crew: Crew,
    ) -> None:
        steps = self.steps(plan)
        decision = self.decide(head, members, plan, goal, causes, steps)
        cast = self.cast(plan, crew)
        story = self.story(plan, len(members), causes[0])
        readings = self.readings(head.county.code, plan, steps)
        reviews = self.reviews(head.county.code, steps, decision, cast, crew, len(members))
        events = history(self.rng, plan, steps, cast, story, readings, reviews, self.today)
        file_pk = self.sink.add(
            "file",
            *self.file_row(
                household, head, plan, causes, steps, decision, reviews, cast, story, events
            ),
        )
        for event in events:
            self.sink.add("event", file_pk, *event.row())
        self.lines(file_pk, decision.money)
        self.visit(file_pk, steps, cast, members, story)
        for reading in readings:
            self.sink.add("reading", file_pk, *reading)
        self.write_reviews(file_pk, reviews, events)
        self.follow_ups(file_pk, plan, steps, cast)

    def story(self, plan: Plan, size: int, cause: int) -> Story:
        rejection = self.rng.choice(REJECTION_REASONS[plan.stage]) if plan.stage else ""
        kind = ExitKind.RECOVERED if plan.reopened else plan.exit_kind
        return Story(visit_findings(size, cause), rejection, kind, EXIT_REASONS.get(kind, ""))

    def steps(self, plan: Plan) -> Steps:
        rng, today = self.rng, self.today
        if plan.reopened:
            return timeline.reopened(rng, today)
        if plan.status == Status.NOTICE:
            return timeline.notice(
                rng, today, ended=None if plan.slot is None else plan.slot % 2 == 0
            )
        if plan.status == Status.REJECTED:
            return timeline.rejected(rng, today, plan.stage)
        if plan.status == Status.CLOSED:
            return timeline.closed(rng, today, plan.exit_kind)
        return RECIPES[plan.status](rng, today)

    def decide(
        self,
        head: Person,
        members: list[Member],
        plan: Plan,
        goal: str,
        causes: tuple[int, list[int]],
        steps: Steps,
    ) -> Decision:
        """Compose the lines and assess them; retry (and at last aim lower) when a file
        that must be eligible came out otherwise."""
        sudden = any(cause in SUDDEN_EVENT_CAUSES for cause in (causes[0], *causes[1]))
        terms = self.terms(head.county.code, steps.applied)
        for attempt in range(6):
            aim = goal if attempt < 5 else HardshipCategory.DEEP
            money = compose(self.rng, members, aim, terms, steps.applied, sudden)
            result = rules.assess(money.facts(len(members), sudden), terms)
            if result.category != HardshipCategory.NOT_ELIGIBLE or not plans.needs_eligible(plan):
                break
        decision = Decision(money, result, terms, sudden)
        if steps.filed:
            decision.category = result.category
        if steps.reopened:
            # Reopening re-assesses under the policy of the day; the filed category stays.
            decision.terms = self.terms(head.county.code, steps.reopened)
            decision.result = rules.assess(money.facts(len(members), sudden), decision.terms)
        return decision

    def cast(self, plan: Plan, crew: Crew) -> Cast:
        rng = self.rng
        if plan.slot is None:
            creator = crew.case_worker(rng)
        else:
            # In the showcase county every status has files by each of the two fixed
            # case workers; what waits for approval was submitted by yaohai_caseworker.
            creator = crew.case_workers[1 if plan.slot == 1 else 0 if plan.slot != 3 else 2]
        submitter = creator if rng.random() < 0.8 else crew.colleague(rng, creator)
        if plan.slot is not None and plan.status == Status.REVIEWED:
            submitter = crew.case_workers[0]
        investigator = creator if rng.random() < 0.7 else crew.colleague(rng, creator)
        reviewer = rng.choice(crew.reviewers)
        approver = crew.approvers[
            0 if plan.slot in (0, 1, 2) else rng.randrange(len(crew.approvers))
        ]
        return Cast(creator, submitter, investigator, reviewer, approver)

    # --- rows ------------------------------------------------------------------------------

    def number(self, county: str, year: int) -> str:
        """Numbered 1, 2, 3 ... per county and year, as services._next_number continues."""
        prefix = f"{county}-{year}-"
        self.numbers[prefix] = self.numbers.get(prefix, 0) + 1
        return f"{prefix}{self.numbers[prefix]:06d}"

    def file_row(
        self,
        household: int,
        head: Person,
        plan: Plan,
        causes: tuple[int, list[int]],
        steps: Steps,
        decision: Decision,
        reviews: list[ReviewDone],
        cast: Cast,
        story: Story,
        events: list[Event],
    ) -> tuple[Any, ...]:
        money, day = decision.money, steps.assessed_on
        result, terms, on, category = decision.result, decision.terms, day, decision.category
        if reviews and not steps.reopened:
            # The last review re-assessed the household under the standard of its day;
            # reopening later assesses afresh, the reviewed category staying as it was.
            last = reviews[-1]
            result, terms, on = last.result, last.terms, last.done
        if reviews:
            category = reviews[-1].result.category
        live = not steps.reopened  # reopening clears the way back to approval
        assessed = [e.at for e in events if e.kind in REASSESSING]
        return (
            self.number(head.county.code, steps.applied.year), household, head.pk,
            head.union.pk, plan.status, day, True, True, causes[0], causes[1],
            money.exclusions, money.idle, result.per_capita, decision.result.category,
            trace_json(result), self.policy.pk, self.policy.version,
            self.snapshot(terms, on), assessed[-1], category,
            cast.creator.pk, _pk(cast.submitter, live and steps.notice_start),
            _pk(cast.reviewer, live and steps.reviewed), _pk(cast.approver, live and steps.filed),
            steps.notice_start if live else None, steps.notice_end if live else None,
            steps.filed, steps.review_due, story.rejection,
            story.exit_kind if steps.exit_on else "", steps.exit_on,
            story.exit_reason if steps.exit_on else "", 1 if steps.reopened else 0,
            events[0].at, events[-1].at,
        )  # fmt: skip

    def lines(self, file_pk: int, money: Finances) -> None:
        for name, lines in (("income", money.incomes), ("expense", money.expenses)):
            for line in lines:
                self.sink.add(name, file_pk, _member_pk(line), line.amount, line.note, line.kind)

    def visit(
        self, file_pk: int, steps: Steps, cast: Cast, members: list[Member], story: Story
    ) -> None:
        if steps.visited is None:
            return
        helper = "社区网格员" + members[-1].name[0] + self.rng.choice("芳军敏强丽涛")
        at = stamp(steps.visited, 10)
        row = (steps.visited, cast.investigator.pk, helper, story.findings, True, at)
        visit = self.sink.add("visit", file_pk, *row)
        # Most visits keep one or two photos; a few records still lack them (the
        # "records complete" indicator counts those). Every photo is one of a few images
        # written once (media.ensure_photos), not a file per visit.
        if self.rng.random() < media.PHOTO_SHARE:
            uploaded = stamp(steps.visited, 17)
            for name, caption in media.pick(self.rng):
                self.sink.add("attachment", file_pk, visit, name, caption, uploaded)

    def readings(self, county: str, plan: Plan, steps: Steps) -> list[Reading]:
        """Monthly per-capita income; before an exit out of hardship, the last six months
        are above the standard, as the exit rule demands."""
        recovering = plan.reopened or plan.exit_kind == ExitKind.RECOVERED
        found = []
        for index, month in enumerate(steps.readings):
            standard = self.terms(county, month).living_standard
            above = recovering and index >= len(steps.readings) - timeline.EXIT_MONTHS
            low, high = (1.05, 1.6) if above else (0.5, 1.2)
            ratio = Decimal(str(round(self.rng.uniform(low, high), 3)))
            found.append((month, (standard * ratio).quantize(TWO_PLACES), standard))
        return found

    def reviews(
        self,
        county: str,
        steps: Steps,
        decision: Decision,
        cast: Cast,
        crew: Crew,
        size: int,
    ) -> list[ReviewDone]:
        """Each periodic review re-assesses the file's lines under the policy and standard
        of its day (services.periodic_review); the category follows the result."""
        done: list[ReviewDone] = []
        category = decision.category
        facts = decision.money.facts(size, decision.sudden)
        for review in steps.reviews:
            terms = self.terms(county, review.done)
            result = rules.assess(facts, terms)
            reviewer = cast.creator if self.rng.random() < 0.7 else self.rng.choice(crew.reviewers)
            note = REVIEW_NOTES[result.category != category]
            done.append(
                ReviewDone(review.due, review.done, reviewer, category, result, terms, note)
            )
            category = result.category
        return done

    def write_reviews(self, file_pk: int, reviews: list[ReviewDone], events: list[Event]) -> None:
        """The review rows, and the follow-up followups.after_review schedules when the
        category changed: halfway to the next review, owned by the reviewer."""
        moments = [e.at for e in events if e.kind == EventKind.ANNUAL_REVIEW]
        for review, at in zip(reviews, moments, strict=True):
            result = review.result
            review_pk = self.sink.add(
                "review", file_pk, review.due, review.done, review.reviewer.pk,
                result.per_capita, review.previous, result.category, trace_json(result),
                self.snapshot(review.terms, review.done), review.note,
            )  # fmt: skip
            if result.category == review.previous:
                continue
            due = add_months(review.done, max(1, timeline.REVIEW_MONTHS // 2))
            status, day, outcome = follow_up_outcome(self.rng, due, self.today)
            owner = review.reviewer.pk
            follow_up = self.sink.add("follow_up", file_pk, due, owner, status, day, outcome)
            self.sink.put(
                "plan", follow_up, file_pk, FollowUpReason.REVIEW, str(REVIEW_PURPOSE)[:255],
                None, review_pk, owner, at,
            )  # fmt: skip

    def follow_ups(self, file_pk: int, plan: Plan, steps: Steps, cast: Cast) -> None:
        kind = ExitKind.RECOVERED if plan.reopened else plan.exit_kind
        if steps.exit_on is None or kind not in FOLLOWED_EXITS:
            return
        for months in self.policy.follow_up_months:
            due = add_months(steps.exit_on, months)
            status, done, outcome = follow_up_outcome(self.rng, due, self.today)
            self.sink.add("follow_up", file_pk, due, cast.creator.pk, status, done, outcome)


TRACE_FIELDS = tuple(f.name for f in dataclasses.fields(rules.TraceLine))


def trace_json(result: rules.Assessment) -> list[dict[str, Any]]:
    """``Assessment.trace_json()`` without ``asdict``'s deep copies, which took half the
    time of a large demo; tests/test_demo.py checks the two agree."""
    return [{name: getattr(line, name) for name in TRACE_FIELDS} for line in result.trace]


def _pk(user: User, reached: object) -> int | None:
    return user.pk if reached else None


def _member_pk(line: Line) -> int | None:
    return line.member.pk if line.member is not None else None


_CAUSE_FINDINGS = {
    1: "家中有成员因病残丧失劳动能力，需长期照料",
    2: "配偶具备劳动能力但长期未就业",
    3: "申请人所在企业停产，本人下岗待业",
    4: "申请人未参加社会保险，无稳定保障",
    5: "申请人应享受的保险待遇未能按时发放",
    6: "家庭成员患重大疾病，医疗支出大",
    7: "家庭遭受自然灾害，房屋及财产受损",
    8: "家庭成员遭遇意外事故，收入中断",
    9: "子女就读高中或大学，教育支出大",
    10: "家庭生活困难",
}


def visit_findings(size: int, cause: int) -> str:
    return (
        f"入户核实：家庭共{size}人，{_CAUSE_FINDINGS[cause]}。"
        "家庭收入、支出与申报情况基本一致，已拍照留存。"
    )


REJECTION_REASONS = {
    "": (),
    "draft": ("家庭人均收入高于困难职工认定标准", "申请人家庭拥有非残疾人代步用机动车"),
    "investigated": ("入户核实家庭人均收入高于认定标准", "经核实申请人经营个体工商户并雇用他人"),
    "notice": ("公示期间收到实名反映，经核实存在隐瞒收入情况",),
    "reviewed": ("经家庭经济状况核对，存在未申报的房产",),
}


# A periodic review's note: the household as it was, or its category changed.
REVIEW_NOTES = {
    False: "年度复核：入户核实家庭人口、收入及支出情况无明显变化，维持原困难类别",
    True: "年度复核：低保标准调整后重新核算家庭人均收入，困难类别相应调整",
}

EXIT_REASONS: dict[str, str] = {
    ExitKind.RECOVERED: "",
    ExitKind.STABILISED: "经帮扶家庭人均收入达到低保标准，生活基本稳定",
    ExitKind.RETIREMENT: "申请人已办理退休，按规定撤档",
    ExitKind.TRANSFER: "申请人工作调动至外省，档案转出",
    ExitKind.DEATH: "申请人因病去世，家庭其他成员另行申请",
}


def follow_up_outcome(
    rng: random.Random, due: datetime.date, today: datetime.date
) -> tuple[str, datetime.date | None, str]:
    """Most follow-ups are done in the days before they fall due; some late, some could
    not reach the household, a few still waiting after their day (overdue)."""
    if due >= today:
        return FollowUpStatus.DUE, None, ""
    draw = rng.random()
    if draw < 0.08:
        return FollowUpStatus.DUE, None, ""  # overdue: nobody called yet
    if draw < 0.16:
        return FollowUpStatus.MISSED, due, "电话未接通，已短信告知"
    if draw < 0.82:
        done = due - datetime.timedelta(days=rng.randint(0, 10))
    else:
        done = min(due + datetime.timedelta(days=rng.randint(1, 20)), today)
    return (
        FollowUpStatus.DONE,
        done,
        rng.choice(("电话回访，家庭收入稳定", "上门回访，生活状况良好", "电话回访，子女已就业")),
    )


FILE_TABLES: dict[str, tuple[type[Model], tuple[str, ...]]] = {
    "file": (
        HardshipFile,
        (
            "number", "household_id", "applicant_id", "organisation_id", "status",
            "applied_on", "income_pledge", "finance_check_authorised", "primary_cause",
            "secondary_causes", "exclusions_found", "idle_able_members", "per_capita_income",
            "proposed_category", "decision_trace", "policy_id", "policy_version",
            "policy_snapshot", "assessed_at", "category", "created_by_id", "submitted_by_id",
            "reviewed_by_id", "approved_by_id", "notice_start", "notice_end", "filed_on",
            "review_due", "rejection_reason", "exit_kind", "exit_on", "exit_reason",
            "reopen_count", "created_at", "updated_at",
        ),
    ),
    "event": (
        FileEvent,
        ("file_id", "at", "actor_id", "kind", "from_status", "to_status", "note", "data"),
    ),
    "income": (IncomeLine, ("file_id", "member_id", "amount", "note", "kind")),
    "expense": (ExpenseLine, ("file_id", "member_id", "amount", "note", "kind")),
    "visit": (
        Investigation,
        (
            "file_id", "visited_on", "investigator_id", "co_investigators", "findings",
            "household_confirmed", "created_at",
        ),
    ),
    "attachment": (
        Attachment, ("file_id", "investigation_id", "upload", "caption", "uploaded_at"),
    ),
    "reading": (IncomeReading, ("file_id", "month", "per_capita_income", "living_standard")),
    "review": (
        PeriodicReview,
        (
            "file_id", "due_on", "done_on", "reviewer_id", "per_capita_income",
            "previous_category", "category", "decision_trace", "policy_snapshot", "note",
        ),
    ),
    "follow_up": (FollowUp, ("file_id", "due_on", "owner_id", "status", "done_on", "outcome")),
    # Keyed by its follow-up (a one-to-one primary key): written with Sink.put.
    "plan": (
        FollowUpPlan,
        (
            "file_id", "reason", "purpose", "batch_id", "review_id", "created_by_id",
            "created_at",
        ),
    ),
}  # fmt: skip
