"""Every URL that names an object answers 404 to an outsider, for every view there is.

The test walks the URL configuration itself, so a view added tomorrow is covered without
anyone remembering to: if its URL names an object of a kind this test does not know, the
test fails and asks for the mapping.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from gonghui.accounts.choices import Role
from gonghui.assistance.choices import AidKind, FundSource, TargetKind
from gonghui.assistance.models import (
    AidPolicy,
    AssistanceLine,
    Budget,
    Campaign,
    CampaignTarget,
    Fund,
    Payment,
    PaymentBatch,
)
from gonghui.discovery.models import LinkReview
from gonghui.hardship import services
from gonghui.hardship.models import Attachment, HardshipFile, LivingStandard
from gonghui.organisations.choices import OrganisationKind
from gonghui.supervision.models import Competition, Tier
from tests.cases import open_file
from tests.factories import Province, user

PARAM = re.compile(r"<(?:int:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")

# Kinds that belong to no union: every administrator with the role reaches them, and what
# they show is scoped instead (see the test of each kind below the walk).
SHARED = {"rules"}  # screening rules: test_a_rule_is_shared_but_its_runs_are_scoped


def patterns(resolver: URLResolver, prefix: str = "") -> Iterator[str]:
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from patterns(entry, route)
        elif isinstance(entry, URLPattern) and PARAM.search(route):
            yield route


def fill(route: str, ids: dict[str, int]) -> str:
    """Put the ids of Alice's objects into a route; the kind follows from the segment."""
    route = route.replace("^", "").replace("$", "").replace("\\.(?P<format>[a-z0-9]+)/?", "")
    if "format" in route:
        return ""
    parts = route.split("/")
    out = []
    for index, part in enumerate(parts):
        match = PARAM.fullmatch(part)
        if not match:
            out.append(part)
            continue
        name = match.group(1) or match.group(2)
        kind = "member" if name == "member_pk" else parts[index - 1]
        if kind in SHARED:
            return ""
        if kind not in ids:
            pytest.fail(f"No object of kind {kind!r} for {route}: add it to the test")
        out.append(str(ids[kind]))
    return "/" + "/".join(out)


@pytest.fixture
def alices_objects(province: Province) -> dict[str, int]:
    file = open_file(province)
    visit = services.Visit(
        visited_on=file.applied_on,
        findings="x",
        uploads=[(SimpleUploadedFile("a.png", b"\x89PNG\r\n\x1a\n", "image/png"), "")],
    )
    services.record_investigation(province.alice, file, visit)
    member = file.household.members.last()
    assert member is not None
    standard = LivingStandard.objects.get(region_id="340100", valid_from__year=2024)
    line, campaign, target = household_aid(province, file)
    fund_side = fund_objects(province, line)
    return {
        # Assistance, household side: a line of the plan, a campaign and one of its targets.
        "lines": line.pk,
        "campaigns": campaign.pk,
        "targets": target.pk,
        # Assistance, fund side: a fund, a budget, a payment batch, a line to pay again.
        **fund_side,
        "files": file.pk,
        "households": file.household_id,
        "workers": file.applicant_id,
        "member": member.pk,
        "attachments": Attachment.objects.get(file=file).pk,
        "policies": province.policy.pk,
        "standards": standard.pk,
        "aid": aid_policy().pk,
        # Supervision: a competition organised by Yaohai among its grassroots unions.
        "competitions": competition(province).pk,
        # Follow-ups and supervision tasks: a follow-up of the file, a task Hefei gave
        # Yaohai and its finding.
        **supervision_objects(province, file),
        # Discovery imports: a roster import and an external list import of Yaohai.
        **import_objects(province),
        # Outreach: a candidate a screening rule flagged in Yaohai, and Yaohai's coverage.
        **outreach_objects(province, file),
        # Linkage: a pair in the review queue of the applicant's union.
        "reviews": link_review(file).pk,
        # Screening rules: Yaohai's run of the rule, and the start of the linkage of
        # Yaohai's list.
        **rule_objects(),
    }


def link_review(file: HardshipFile) -> LinkReview:
    return LinkReview.objects.create(
        kind="link",
        row_no=2,
        worker=file.applicant,
        organisation=file.applicant.organisation,
        match_probability=0.5,
        match_weight=0.0,
        agreed=["name"],
        levels={"name": "exact"},
        run_key="scope",
    )


def outreach_objects(p: Province, file: HardshipFile) -> dict[str, int]:
    from gonghui.discovery.models import Candidate, ScreeningRule, ScreeningRun

    rule = ScreeningRule.objects.create(code="scope-rule", name="范围", definition={})
    run = ScreeningRun.objects.create(
        rule=rule,
        rule_version=1,
        kind="run",
        organisation=p.yaohai,
        created_by=p.adam,
        as_of=datetime.date(2025, 6, 15),
    )
    candidate = Candidate.objects.create(
        worker=file.applicant,
        organisation=file.applicant.organisation,
        rule=rule,
        rule_version=1,
        found_by=run,
    )
    return {"candidates": candidate.pk, "coverage": p.yaohai.pk}


def competition(p: Province) -> Competition:
    """A competition organised by Yaohai (so the province administrator reaches it and the
    Wuhu administrator does not), judged by Rita."""
    found = Competition.objects.create(
        name="瑶海区竞赛",
        organiser=p.yaohai,
        period_start=datetime.date(2025, 1, 1),
        period_end=datetime.date(2025, 12, 31),
        created_by=p.adam,
    )
    found.judges.set([p.rita])
    tier = Tier.objects.create(competition=found, name="基层")
    tier.organisations.set([p.yaohai_union])
    return found


def supervision_objects(p: Province, file: HardshipFile) -> dict[str, int]:
    from gonghui.hardship.models import FollowUp
    from gonghui.supervision.models import Finding, SupervisionTask, TaskKind

    follow_up = FollowUp.objects.create(file=file, due_on=datetime.date(2026, 3, 1), owner=p.alice)
    task = SupervisionTask.objects.create(
        kind=TaskKind.SITE_INSPECTION,
        title="实地督查",
        organisation=p.yaohai,
        assigned_by_organisation=p.hefei,
        assigned_by=p.carl,
        assigned_on=datetime.date(2026, 3, 1),
        due_on=datetime.date(2026, 4, 1),
    )
    finding = Finding.objects.create(task=task, position=1)
    return {"follow-ups": follow_up.pk, "tasks": task.pk, "findings": finding.pk}


def aid_policy() -> AidPolicy:
    """The province's assistance caps (built with the budgets, or here)."""
    found = AidPolicy.objects.filter(region_id="340000").first()
    return found or AidPolicy.objects.create(
        name="安徽省帮扶标准", region_id="340000", valid_from=datetime.date(2024, 1, 1)
    )


def household_aid(
    p: Province, file: HardshipFile
) -> tuple[AssistanceLine, Campaign, CampaignTarget]:
    """A line of Alice's file and a Yaohai campaign that lists its applicant."""
    fund = Fund.objects.create(
        code="SCOPE",
        name="送温暖",
        source=FundSource.HOLIDAY,
        organisation=p.yaohai,
        purposes=[AidKind.LIVING, AidKind.HOLIDAY_VISIT],
    )
    line = AssistanceLine.objects.create(
        worker=file.applicant,
        file=file,
        household=file.household,
        organisation=file.organisation,
        year=2026,
        kind=AidKind.LIVING,
        amount_fen=100_00,
        needs_level=OrganisationKind.COUNTY,
        created_by=p.alice,
    )
    campaign = Campaign.objects.create(
        name="送温暖",
        organisation=p.yaohai,
        fund=fund,
        year=2026,
        created_by=p.leo,
        starts_on=datetime.date(2026, 1, 1),
        ends_on=datetime.date(2026, 2, 28),
    )
    target = CampaignTarget.objects.create(
        campaign=campaign,
        kind=TargetKind.OTHER,
        worker=file.applicant,
        organisation=file.organisation,
        amount_fen=100_00,
    )
    return line, campaign, target


def fund_objects(p: Province, line: AssistanceLine) -> dict[str, int]:
    """A Yaohai fund with a budget and a payment batch; ``failed`` is a line whose card
    can be fixed from the failed-payments queue."""
    fund = Fund.objects.create(
        code="SCOPE-FUND",
        name="帮扶资金",
        source=FundSource.UNION,
        organisation=p.yaohai,
        purposes=[AidKind.LIVING],
    )
    budget = Budget.objects.create(fund=fund, organisation=p.yaohai, year=2026)
    batch = PaymentBatch.objects.create(
        number="PB-SCOPE", fund=fund, organisation=p.yaohai, created_by=p.adam
    )
    payment = Payment.objects.create(
        batch=batch,
        line=line,
        amount_fen=100,
        payee_name=line.worker.name,
        bank_name="中国工商银行",
        account_number="6222020000000000000",
    )
    return {
        "funds": fund.pk,
        "budgets": budget.pk,
        "batches": batch.pk,
        "failed": line.pk,
        "payments": payment.pk,
    }


def test_every_object_url_is_404_for_an_outsider(
    province: Province, alices_objects: dict[str, int]
) -> None:
    # An administrator of a Wuhu county: every capability, so only scope can refuse.
    wuhu_admin = user("wuhu_admin", Role.ADMIN, province.jinghu)
    outsider, insider = Client(), Client()
    outsider.force_login(wuhu_admin)
    insider.force_login(province.adam)  # the province administrator may reach everything
    checked = []
    for route in patterns(get_resolver()):
        url = fill(route, alices_objects)
        if not url:
            continue
        statuses = {outsider.get(url).status_code, outsider.post(url, {}).status_code}
        assert statuses <= {404, 405}, (url, statuses)
        assert 404 in statuses, url
        assert insider.get(url).status_code != 404, url
        checked.append(url)
    assert len(checked) >= 25  # web pages and API endpoints that name an object


def test_the_outsider_still_sees_their_own(province: Province) -> None:
    client = Client()
    client.force_login(province.charlie)
    assert client.get("/").status_code == 200
    response = client.get("/files/")
    assert response.status_code == 200
    assert response.context["page"].paginator.count == 0  # nothing of Alice's


def import_objects(p: Province) -> dict[str, int]:
    """A queued roster import and a list import of Yaohai (nothing run: the pages must
    still answer for the insider)."""
    from gonghui.discovery.models import ListImport, RosterImport, RosterSource

    roster = RosterSource.objects.create(organisation=p.yaohai, name="瑶海区名册")
    dibao = RosterSource.objects.create(organisation=p.yaohai, name="低保", kind="minimum_living")
    common = {"organisation": p.yaohai, "created_by": p.adam, "size_bytes": 1, "file_format": "csv"}
    roster_import = RosterImport.objects.create(
        source=roster, file_name="r.csv", sha256="1" * 64, **common
    )
    list_import = ListImport.objects.create(
        source=dibao,
        kind="minimum_living",
        agency="民政局",
        period_from=datetime.date(2025, 1, 1),
        period_to=datetime.date(2025, 6, 30),
        file_name="l.csv",
        sha256="2" * 64,
        **common,
    )
    return {"rosters": roster_import.pk, "external-lists": list_import.pk}


def rule_objects() -> dict[str, int]:
    """Yaohai's run of the outreach rule (``outreach_objects``), a dry-run job of Yaohai,
    and Yaohai's list for the start of its linkage (``import_objects``)."""
    from gonghui.discovery.models import ListImport, ScreeningJob, ScreeningRun

    run = ScreeningRun.objects.get(rule__code="scope-rule")
    job = ScreeningJob.objects.create(
        kind="dry_run",
        rule=run.rule,
        organisation=run.organisation,
        created_by=run.created_by,
        as_of=run.as_of,
    )
    return {
        "runs": run.pk,
        "jobs": job.pk,
        "linkage": ListImport.objects.get(file_name="l.csv").pk,
    }


def test_a_rule_is_shared_but_its_runs_are_scoped(
    province: Province, alices_objects: dict[str, int]
) -> None:
    from gonghui.discovery.models import ScreeningRule

    rule = ScreeningRule.objects.get(code="scope-rule")
    wuhu_admin = user("wuhu_admin", Role.ADMIN, province.jinghu)
    outsider, insider = Client(), Client()
    outsider.force_login(wuhu_admin)
    insider.force_login(province.adam)
    url = f"/rules/{rule.pk}/"
    assert outsider.get(url).context["page"].paginator.count == 0  # not Yaohai's run
    assert insider.get(url).context["page"].paginator.count == 1
    assert outsider.get("/rules/").context["rows"][0]["last_run"] is None
    assert outsider.get(f"/rules/runs/{alices_objects['runs']}/").status_code == 404
