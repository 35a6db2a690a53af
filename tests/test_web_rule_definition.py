"""Defining screening rules on the web: a new rule with a parameter, checked by the real
compiler (the compiled DuckDB and Spark SQL shown) and saved as a draft that the rule's page
dry-runs; the compiler's refusals on the SQL field, nothing saved; a copy prefilled from a
rule; a changed SQL as a new version with the old one kept; the help text generated from
the compiler's tables; who may do it; and the pages' queries. The data is the small
hand-built world of ``tests/test_discovery_screening.py``."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from gonghui.accounts.choices import ROLE_CAPABILITIES, Capability, Role
from gonghui.audit.models import AuditEntry
from gonghui.discovery import rules, screening
from gonghui.discovery.choices import RuleStatus
from gonghui.discovery.models import Candidate, ScreeningRule, ScreeningRuleVersion, ScreeningRun
from tests.factories import Province, user
from tests.test_discovery_screening import AS_OF, World, builtin_rule
from tests.web_helpers import logged_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("inline_jobs")]

# A single medical bill above a threshold: the threshold a parameter, in yuan on the page.
SINGLE_BILL = (
    "SELECT m.worker_id, 'medical' AS source, l.import_id, l.row_no\n"
    "FROM members m JOIN list_medical l ON l.id_number = m.id_number\n"
    "WHERE l.out_of_pocket_fen > :min_fen"
)
DESCRIPTION = "单笔医疗自付费用超过下限的会员。"


def form_data(
    sql: str = SINGLE_BILL,
    parameters: list[tuple[str, str, str, str]] | None = None,
    do: str = "save",
    initial: int = 0,
    **fields: Any,
) -> dict[str, Any]:
    """The definition form as a browser posts it: the fields, then the parameter table
    (name, type, default, label) and one blank row."""
    rows = [("min_fen", "fen", "10,000", "单笔自付下限")] if parameters is None else parameters
    data: dict[str, Any] = {
        "code": "single-bill",
        "name": "单笔大额医疗自付",
        "description": DESCRIPTION,
        "sql": sql,
        "do": do,
        "param-TOTAL_FORMS": str(len(rows) + 1),
        "param-INITIAL_FORMS": str(initial),
        "param-MIN_NUM_FORMS": "0",
        "param-MAX_NUM_FORMS": "12",
        **fields,
    }
    for index, (name, kind, default, label) in enumerate([*rows, ("", "int", "", "")]):
        data.update(
            {
                f"param-{index}-name": name,
                f"param-{index}-type": kind,
                f"param-{index}-default": default,
                f"param-{index}-label": label,
            }
        )
    return data


def rule_audit() -> Any:
    return AuditEntry.objects.filter(model="discovery.screeningrule")


# --- a new rule ------------------------------------------------------------------------------


def test_a_new_rule_with_a_parameter_is_checked_saved_and_dry_run(
    client: Client, province: Province, world: World
) -> None:
    logged_in(client, province.adam)
    assert 'id="new-rule-link"' in client.get(reverse("rule-list")).content.decode()
    assert client.get(reverse("rule-new")).status_code == 200

    # Check: the compiled SQL of both engines, the threshold 10,000 yuan as 1,000,000 fen.
    response = client.post(reverse("rule-new"), form_data(do="check"))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="compiled-duckdb"' in page and 'id="compiled-spark"' in page
    assert "l.out_of_pocket_fen &gt; 1000000" in page
    assert "CAST(h.source AS STRING)" in page  # Spark's dialect
    assert response.context["compiled"].tables >= {"members", "list_medical"}
    assert not ScreeningRule.objects.filter(code="single-bill").exists()

    response = client.post(reverse("rule-new"), form_data())
    made = ScreeningRule.objects.get(code="single-bill")
    assert response.status_code == 302 and response["Location"] == reverse(
        "rule-detail", args=[made.pk]
    )
    assert made.definition == {
        "sql": SINGLE_BILL,
        "parameters": {"min_fen": {"type": "fen", "default": 1_000_000, "label": "单笔自付下限"}},
    }
    assert (made.name, made.description, made.parameters) == ("单笔大额医疗自付", DESCRIPTION, {})
    assert (made.status, made.version, made.builtin) == (RuleStatus.DRAFT, 1, False)
    created = rule_audit().get(object_id=str(made.pk))
    assert (created.action, created.actor) == ("create", province.adam)
    kept = ScreeningRuleVersion.objects.get(rule=made)
    assert (kept.version, kept.definition, kept.created_by) == (1, made.definition, province.adam)

    # The rule's page: its parameter with its own label, and the dry run of the job flow.
    page = client.get(response["Location"]).content.decode()
    assert "单笔自付下限" in page and "10,000.00" in page and 'id="dry-run-form"' in page
    response = client.post(
        reverse("rule-detail", args=[made.pk]),
        {"action": "dry_run", "dry-as_of": AS_OF.isoformat()},
    )
    assert response.status_code == 302
    dry = ScreeningRun.objects.get(rule=made)
    # Bills above 10,000 yuan: 医疗甲's 12,000, 医疗乙's 25,000 and 低保甲's 15,000 (9,000 not).
    assert (dry.kind, dry.rule_version, dry.found, dry.added) == ("dry_run", 1, 3, 3)
    assert dry.summary == [
        {"organisation": province.yaohai_union.pk, "name": province.yaohai_union.name,
         "add": 3, "drop": 0, "keep": 0, "change": 0},
    ]  # fmt: skip
    assert Candidate.objects.count() == 0


HEAD = "SELECT m.worker_id, 'x' AS source, 0 AS import_id, 0 AS row_no FROM members m "


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (HEAD + "WHERE m.worker_id = ((1", "cannot be read at line 1, column"),
        ("DELETE FROM members", "A rule is exactly one SELECT."),
        ("SELECT m.worker_id FROM members m", "returns the columns worker_id, source, import_id"),
        (HEAD + "WHERE m.income_fen > 0", "reads a column “income_fen” that none of its tables"),
        (HEAD + "WHERE m.organisation_id = :union_id", "undeclared parameters: union_id"),
        (
            "SELECT worker_id, 'x' AS source, 0 AS import_id, 0 AS row_no FROM members m "
            "JOIN household_members h ON h.household_id = m.household_id",
            "More than one table of the rule has a column “worker_id” (household_members, members)",
        ),
        # SQLGlot lets it through; DuckDB, binding it over empty tables, does not.
        (HEAD + "WHERE no_such_function(m.worker_id) > 0", "DuckDB cannot run the rule"),
    ],
)
@pytest.mark.parametrize("do", ["check", "save"])
def test_a_broken_rule_shows_the_compiler_message_on_the_sql_and_saves_nothing(
    client: Client, province: Province, sql: str, message: str, do: str
) -> None:
    logged_in(client, province.adam)
    response = client.post(reverse("rule-new"), form_data(sql=sql, parameters=[], do=do))
    assert response.status_code == 400
    errors = response.context["form"].errors["sql"]
    assert any(message in e for e in errors), errors
    assert 'id="compiled"' not in response.content.decode()
    assert not ScreeningRule.objects.exists() and not rule_audit().exists()


def test_a_parameter_the_sql_does_not_use_or_of_the_wrong_type_is_refused_on_its_row(
    client: Client, province: Province
) -> None:
    logged_in(client, province.adam)
    unused = [("min_fen", "fen", "100", ""), ("spare", "int", "3", "")]
    response = client.post(reverse("rule-new"), form_data(parameters=unused))
    assert response.status_code == 400
    rows = response.context["formset"].forms
    assert "does not use the declared parameters spare" in rows[1].non_field_errors()[0]
    assert not rows[0].errors

    negative = [("min_fen", "int", "-1", "")]
    response = client.post(reverse("rule-new"), form_data(parameters=negative))
    assert "must be a int" in response.context["formset"].forms[0].non_field_errors()[0]

    reserved = [("as_of", "date", "2025-01-01", "")]
    sql = HEAD + "WHERE m.worker_id > 0"
    response = client.post(reverse("rule-new"), form_data(sql=sql, parameters=reserved))
    assert "The screening gives :as_of itself" in response.content.decode()
    english = client.post(reverse("rule-new"), form_data(description="Members with big bills"))
    assert english.context["form"].errors["description"] == [
        "Write the description in Chinese: the grassroots unions read it."
    ]
    assert not ScreeningRule.objects.exists()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("auth_user", "A rule cannot read “auth_user”"),
        ("read_parquet('/etc/passwd')", "A rule reads tables by name only"),
        ("main.members", "A rule reads tables by name only"),
        ("list_medical_rows", "A rule cannot read “list_medical_rows”"),  # rows without links
        ("row_links", "A rule cannot read “row_links”"),
    ],
)
def test_a_table_outside_the_allowed_ones_is_refused(
    client: Client, province: Province, source: str, message: str
) -> None:
    logged_in(client, province.adam)
    sql = f"SELECT t.worker_id, 'x' AS source, 0 AS import_id, 0 AS row_no FROM {source} t"
    response = client.post(reverse("rule-new"), form_data(sql=sql, parameters=[]))
    assert response.status_code == 400
    assert any(message in e for e in response.context["form"].errors["sql"])
    assert not ScreeningRule.objects.exists()


def test_the_refusal_is_in_the_readers_language(client: Client, province: Province) -> None:
    logged_in(client, province.adam, language="zh-hans")
    sql = "SELECT t.worker_id, 'x' AS source, 0 AS import_id, 0 AS row_no FROM auth_user t"
    response = client.post(reverse("rule-new"), form_data(sql=sql, parameters=[]))
    assert "规则不能读取“auth_user”" in response.context["form"].errors["sql"][0]


# --- a copy ---------------------------------------------------------------------------------


def test_a_copy_is_prefilled_from_the_rule(client: Client, province: Province) -> None:
    medical = builtin_rule("medical-out-of-pocket")
    logged_in(client, province.adam)
    page = client.get(reverse("rule-detail", args=[medical.pk])).content.decode()
    copy_url = f"{reverse('rule-new')}?copy={medical.pk}"
    assert copy_url in page and reverse("rule-edit", args=[medical.pk]) in page

    response = client.get(copy_url)
    form, formset = response.context["form"], response.context["formset"]
    spec = next(r for r in rules.BUILTINS if r["code"] == "medical-out-of-pocket")
    assert form["code"].value() == "medical-out-of-pocket-2"
    assert form["name"].value() == "Medical out-of-pocket above the threshold (copy)"
    assert form["description"].value() == spec["description"]
    assert form["sql"].value() == spec["definition"]["sql"].strip()
    assert [f.initial for f in formset.initial_forms] == [
        {"name": "threshold_fen", "type": "fen", "default": "20,000.00", "label": ""}
    ]
    assert not form.fields["code"].disabled  # a copy is a new rule: its own code

    # Saved with its own code and a Chinese description: a second rule, the first unchanged.
    data = form_data(
        sql=form["sql"].value(),
        parameters=[("threshold_fen", "fen", "15,000", "")],
        code="medical-out-of-pocket-2",
        name="医疗自付（一万五）",
    )
    assert client.post(copy_url, data).status_code == 302
    copied = ScreeningRule.objects.get(code="medical-out-of-pocket-2")
    assert copied.definition["parameters"] == {
        "threshold_fen": {"type": "fen", "default": 1_500_000}
    }
    assert (copied.builtin, copied.version) == (False, 1)
    medical.refresh_from_db()
    assert (medical.version, medical.definition) == (1, spec["definition"])

    # The next copy's code is free too; a rule that does not exist is no copy.
    assert client.get(copy_url).context["form"]["code"].value() == "medical-out-of-pocket-3"
    assert client.get(f"{reverse('rule-new')}?copy=999999").status_code == 404


# --- a new version ----------------------------------------------------------------------------


def test_a_changed_sql_is_a_new_version_and_the_old_is_kept(
    client: Client, province: Province, world: World
) -> None:
    medical = builtin_rule("medical-out-of-pocket")
    old_definition = dict(medical.definition)
    logged_in(client, province.adam)
    # A parameter value first (version 2), then a run: the candidate carries version 2.
    client.post(
        reverse("rule-detail", args=[medical.pk]),
        {"action": "parameters", "p-threshold_fen": "14,000"},
    )
    medical = screening.change_rule(
        province.adam, ScreeningRule.objects.get(pk=medical.pk), status="on"
    )
    screening.run_rule(province.adam, medical, AS_OF)
    assert set(Candidate.objects.values_list("worker_id", "rule_version")) == {
        (world.sick.pk, 2), (world.dibao.pk, 2)
    }  # fmt: skip

    url = reverse("rule-edit", args=[medical.pk])
    response = client.get(url)
    assert "<code>threshold_fen = 14,000.00</code>" in response.content.decode()
    form = response.context["form"]
    assert form.fields["code"].disabled and form.fields["name"].disabled  # built-in: translated
    sql = form["sql"].value()
    assert sql == old_definition["sql"].strip()

    # Saved unchanged: no new version (the form strips the stored SQL's blank lines).
    same = form_data(
        sql=sql, parameters=[("threshold_fen", "fen", "20,000", "")], initial=1, version=2
    )
    response = client.post(url, same)
    assert response.status_code == 302
    assert ScreeningRule.objects.get(pk=medical.pk).version == 2

    six_months = sql.replace("INTERVAL 12 MONTH", "INTERVAL 6 MONTH")
    changed = {**same, "sql": six_months}
    response = client.post(url, changed)
    assert response.status_code == 302
    medical.refresh_from_db()
    new_definition = {"sql": six_months, "parameters": old_definition["parameters"]}
    assert (medical.version, medical.definition) == (3, new_definition)
    assert medical.parameters == {"threshold_fen": 1_400_000}  # the value set on the page stays
    versions = {v.version: v for v in ScreeningRuleVersion.objects.filter(rule=medical)}
    assert versions[1].definition == old_definition and versions[1].parameters == {}
    assert versions[2].definition == old_definition
    assert versions[2].parameters == {"threshold_fen": 1_400_000}
    assert versions[3].definition == new_definition and versions[3].created_by == province.adam
    # The candidates keep the version that found them, and it is still there to read.
    assert set(Candidate.objects.values_list("rule_version", flat=True)) == {2}
    change = rule_audit().filter(object_id=str(medical.pk), action="update").first()
    assert change is not None and change.actor == province.adam
    assert change.changes["version"] == [2, 3]
    assert change.changes["definition"] == [old_definition, new_definition]

    page = client.get(reverse("rule-detail", args=[medical.pk]))
    rows = {r["version"].version: r for r in page.context["versions"]}
    assert sorted(rows) == [1, 2, 3]
    assert (rows[3]["sql_changed"], rows[2]["parameters_changed"]) == (True, True)
    assert (rows[2]["candidates"], rows[3]["candidates"]) == (2, 0)

    # A form loaded at version 2 and sent now would undo version 3: refused.
    response = client.post(url, {**changed, "sql": sql})
    assert response.status_code == 409
    assert "Someone changed the rule meanwhile" in response.content.decode()
    assert ScreeningRule.objects.get(pk=medical.pk).version == 3


def test_a_broken_change_keeps_the_current_version(client: Client, province: Province) -> None:
    medical = builtin_rule("medical-out-of-pocket")
    logged_in(client, province.adam)
    broken = form_data(
        sql="SELECT 1", parameters=[("threshold_fen", "fen", "20,000", "")], initial=1, version=1
    )
    response = client.post(reverse("rule-edit", args=[medical.pk]), broken)
    assert response.status_code == 400 and response.context["form"].errors["sql"]
    medical.refresh_from_db()
    assert medical.version == 1 and ScreeningRuleVersion.objects.filter(rule=medical).count() == 1


# --- the help text ----------------------------------------------------------------------------


def test_the_tables_a_rule_may_read_come_from_the_compiler(
    client: Client, province: Province, monkeypatch: pytest.MonkeyPatch
) -> None:
    logged_in(client, province.adam)
    page = client.get(reverse("rule-new")).content.decode()
    listed = page[page.index('id="rule-tables"') :]
    for table, columns in rules.READABLE.items():
        assert f'id="table-{table}"' in listed, table
        for column, _type in columns:
            assert f"<code>{column}</code>" in listed, (table, column)
    assert "<code>open_file_members</code>" in listed and "<code>out_of_pocket_fen</code>" in listed
    assert "<code>'child'</code>" in listed  # the registry's codes of household_members.relation
    assert all(f"<code>{name}</code>" in page for name in rules.OUTPUT)
    # A table the compiler learns appears without a word of the page changing.
    monkeypatch.setitem(rules.READABLE, "list_new_kind", [("pension_fen", "BIGINT")])
    page = client.get(reverse("rule-new")).content.decode()
    assert 'id="table-list_new_kind"' in page and "<code>pension_fen</code>" in page


# --- who -------------------------------------------------------------------------------------


def test_a_county_administrator_may_not_define_rules(client: Client, province: Province) -> None:
    medical = builtin_rule("medical-out-of-pocket")
    county = user("yadmin", Role.ADMIN, province.yaohai)
    logged_in(client, county)
    assert 'id="new-rule-link"' not in client.get(reverse("rule-list")).content.decode()
    page = client.get(reverse("rule-detail", args=[medical.pk])).content.decode()
    assert 'id="edit-link"' not in page and 'id="copy-link"' not in page
    for url in (reverse("rule-new"), reverse("rule-edit", args=[medical.pk])):
        assert client.get(url).status_code == 403
        assert client.post(url, form_data()).status_code == 403
        assert client.post(url, form_data(do="check")).status_code == 403
    assert not ScreeningRule.objects.filter(code="single-bill").exists()
    assert ScreeningRule.objects.get(pk=medical.pk).version == 1


def test_a_province_user_without_edit_policy_may_not_define_rules(
    client: Client, province: Province, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A province user who imports the lists sees the rules, but defining one is policy."""
    medical = builtin_rule("medical-out-of-pocket")
    lists_only = ROLE_CAPABILITIES[Role.LEADER] | {Capability.IMPORT_ROSTERS}
    monkeypatch.setitem(ROLE_CAPABILITIES, Role.LEADER, lists_only)
    logged_in(client, province.leo)
    listing = client.get(reverse("rule-list"))
    assert listing.status_code == 200 and 'id="new-rule-link"' not in listing.content.decode()
    for url in (reverse("rule-new"), reverse("rule-edit", args=[medical.pk])):
        assert client.get(url).status_code == 403
        assert client.post(url, form_data()).status_code == 403
    logged_in(client, province.alice)  # a case worker sees no rule at all
    assert client.get(reverse("rule-new")).status_code == 403
    assert not ScreeningRule.objects.filter(code="single-bill").exists()
    logged_in(client, province.adam)
    assert client.get(reverse("rule-edit", args=[999999])).status_code == 404


# --- queries ---------------------------------------------------------------------------------


def test_the_pages_run_in_constant_queries(client: Client, province: Province) -> None:
    medical = builtin_rule("medical-out-of-pocket")
    logged_in(client, province.adam)
    pages = [
        reverse("rule-new"),
        f"{reverse('rule-new')}?copy={medical.pk}",
        reverse("rule-edit", args=[medical.pk]),
        reverse("rule-detail", args=[medical.pk]),
    ]

    def counts() -> list[int]:
        found = []
        for url in pages:
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200
            found.append(len(queries))
        return found

    few = counts()
    for n in range(3):
        medical = screening.change_rule(
            province.adam, medical, parameters={"threshold_fen": 1_000_000 + n}
        )
        screening.create_rule(
            province.adam, f"medical-out-of-pocket-{n + 2}", f"副本{n}", medical.definition,
            description=DESCRIPTION,
        )  # fmt: skip
    assert ScreeningRuleVersion.objects.filter(rule=medical).count() == 4
    assert counts() == few
