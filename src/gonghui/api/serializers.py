"""What the API reads and writes.

Responses are read-only serializers over the models; requests are plain serializers that
only check the shape of the input, because the rules live in the services (a service
refusal comes back as a ``DomainError`` naming the field). Amounts are strings with two
decimals, never floats. Personal data goes through :mod:`gonghui.api.personal`.

A note on names: drf-spectacular names an enum after the property that carries it, so one
set of choices is always carried by one property name (a file's proposed category is
``assessment.category``, not ``proposed_category``). Fields that repeat a choice set under
another name (``from_status``) are plain strings.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from gonghui.hardship import rules
from gonghui.hardship.choices import (
    EventKind,
    Exclusion,
    ExitKind,
    ExpenseKind,
    FileStatus,
    HardshipCategory,
    HardshipCause,
    IncomeKind,
)
from gonghui.hardship.models import (
    Attachment,
    FileEvent,
    FollowUp,
    HardshipFile,
    IncomeReading,
    Investigation,
)
from gonghui.hardship.queue import QueueKind
from gonghui.organisations.models import Organisation, Region
from gonghui.people.idnumber import normalise
from gonghui.people.models import Household, HouseholdMember, Worker
from gonghui.people.services import save_worker

from .personal import BirthDateField, PersonalField

MONEY: dict[str, Any] = {"max_digits": 14, "decimal_places": 2, "coerce_to_string": True}


def money(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(**MONEY, **kwargs)


# --- errors -------------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    """The body of every error response (see :mod:`gonghui.api.errors`)."""

    detail = serializers.CharField(help_text=_("The first message, translated."))
    field = serializers.CharField(
        allow_null=True, help_text=_("The input at fault, as a dotted path, or null.")
    )
    # The metaclass takes declared fields off the class, so these names do not shadow
    # Serializer.errors, Field.label or Serializer.data at run time; only the stubs mind.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text=_("Every message, by input."),
    )


# --- references ---------------------------------------------------------------------------


class RegionRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Region
        fields = ["code", "name"]


class OrganisationRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organisation
        fields = ["id", "name", "kind"]


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="__str__")


class ApplicantSerializer(serializers.ModelSerializer):
    id_number = PersonalField("id")
    phone = PersonalField("phone")

    class Meta:
        model = Worker
        fields = ["id", "name", "id_number", "phone"]


# --- people -------------------------------------------------------------------------------


class WorkerSerializer(serializers.ModelSerializer):
    id_number = PersonalField("id")
    phone = PersonalField("phone")
    birth_date = BirthDateField()
    region = RegionRefSerializer(allow_null=True)
    organisation = OrganisationRefSerializer()

    class Meta:
        model = Worker
        fields = [
            "id",
            "id_number",
            "name",
            "sex",
            "birth_date",
            "phone",
            "region",
            "organisation",
            "employer",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


@extend_schema_field(OpenApiTypes.INT)
class ScopedOrganisationField(serializers.PrimaryKeyRelatedField):
    """An organisation in the requesting user's subtree; any other id "does not exist"."""

    def get_queryset(self) -> QuerySet[Organisation]:
        return Organisation.objects.for_user(self.context["request"].user)


class WorkerWriteSerializer(serializers.Serializer):
    """A worker to create or change. Only the shape is checked here; ``Worker.full_clean``
    normalises and checks the ID number and phone and names the field at fault."""

    # Longer than 18: a number typed with spaces or dashes is normalised by the model.
    id_number = serializers.CharField(max_length=32)
    name = serializers.CharField(max_length=64)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    region = serializers.PrimaryKeyRelatedField(queryset=Region.objects.all())
    organisation = ScopedOrganisationField(
        required=False, help_text=_("Defaults to the organisation of the user.")
    )
    employer = serializers.CharField(max_length=128, required=False, allow_blank=True)

    def validate_id_number(self, value: str) -> str:
        # Worker.full_clean checks max_length before Worker.clean normalises the number,
        # so spaces and dashes typed between the digits are taken out first.
        return normalise(value)

    def create(self, validated_data: dict[str, Any]) -> Worker:
        validated_data.setdefault("organisation", self.context["request"].user.organisation)
        return self._save(Worker(), validated_data)

    def update(self, instance: Worker, validated_data: dict[str, Any]) -> Worker:
        return self._save(instance, validated_data)

    def _save(self, worker: Worker, data: dict[str, Any]) -> Worker:
        for name, value in data.items():
            setattr(worker, name, value)
        # Sex and date of birth are derived from the number by Worker.clean().
        return save_worker(self.context["request"].user, worker)


class HouseholdMemberSerializer(serializers.ModelSerializer):
    id_number = PersonalField("id")
    birth_date = BirthDateField()
    monthly_income = money(read_only=True)

    class Meta:
        model = HouseholdMember
        fields = [
            "id",
            "name",
            "relation",
            "id_number",
            "birth_date",
            "health",
            "disability",
            "schooling",
            "employment",
            "monthly_income",
            "worker",
        ]
        read_only_fields = fields


class FileRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = HardshipFile
        fields = ["id", "number", "status", "applied_on"]
        read_only_fields = fields


class HouseholdSerializer(serializers.ModelSerializer):
    region = RegionRefSerializer()
    organisation = OrganisationRefSerializer()
    members = HouseholdMemberSerializer(many=True)

    class Meta:
        model = Household
        fields = ["id", "organisation", "region", "address", "members"]
        read_only_fields = fields


class HouseholdDetailSerializer(HouseholdSerializer):
    files = FileRefSerializer(many=True)

    class Meta(HouseholdSerializer.Meta):
        fields = [*HouseholdSerializer.Meta.fields, "files"]
        read_only_fields = fields


# --- files: reading -----------------------------------------------------------------------


class AssessmentSummarySerializer(serializers.Serializer):
    category = serializers.ChoiceField(
        source="proposed_category",
        choices=HardshipCategory.choices,
        allow_blank=True,
        help_text=_("The category the latest assessment proposes."),
    )
    per_capita_income = money(allow_null=True)


class TraceLineSerializer(serializers.Serializer):
    code = serializers.CharField()
    params = serializers.DictField(child=serializers.CharField())
    decisive = serializers.BooleanField()
    text = serializers.SerializerMethodField()

    def get_text(self, line: dict[str, Any]) -> str:
        return rules.TraceLine(**line).text()


class AssessmentSerializer(AssessmentSummarySerializer):
    assessed_at = serializers.DateTimeField(allow_null=True)
    policy_version = serializers.IntegerField(allow_null=True)
    policy_snapshot = serializers.DictField(
        help_text=_("The policy terms the assessment was made under, as stored.")
    )
    trace = TraceLineSerializer(many=True, source="decision_trace")


class FileListSerializer(serializers.ModelSerializer):
    status_display = serializers.CharField(source="get_status_display")
    category_display = serializers.CharField(source="get_category_display")
    assessment = AssessmentSummarySerializer(source="*")
    applicant = ApplicantSerializer()
    organisation = OrganisationRefSerializer()
    region = RegionRefSerializer(source="household.region")

    class Meta:
        model = HardshipFile
        fields = [
            "id",
            "number",
            "status",
            "status_display",
            "category",
            "category_display",
            "assessment",
            "applicant",
            "household",
            "organisation",
            "region",
            "applied_on",
            "notice_end",
            "filed_on",
            "review_due",
            "updated_at",
        ]
        read_only_fields = fields


class QueueItemSerializer(FileListSerializer):
    queue_reason = serializers.ChoiceField(choices=QueueKind.choices)
    queue_due = serializers.DateField(allow_null=True)

    class Meta(FileListSerializer.Meta):
        fields = [*FileListSerializer.Meta.fields, "queue_reason", "queue_due"]
        read_only_fields = fields


class QueueCountSerializer(serializers.Serializer):
    queue_reason = serializers.ChoiceField(choices=QueueKind.choices)
    label = serializers.CharField()  # type: ignore[assignment]
    count = serializers.IntegerField()


class CauseSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=HardshipCause.choices)
    label = serializers.CharField()  # type: ignore[assignment]
    primary = serializers.BooleanField()


class IncomeLineSerializer(serializers.Serializer):
    """One income line over the 12 months before applying; ``member`` is optional."""

    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=IncomeKind.choices)
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    amount = money(min_value=0, help_text=_('Yuan over 12 months, e.g. "18000.00".'))
    note = serializers.CharField(max_length=255, allow_blank=True, default="")
    member = serializers.IntegerField(source="member_id", allow_null=True, default=None)


class ExpenseLineSerializer(IncomeLineSerializer):
    """One rigid expense over the 12 months before applying."""

    kind = serializers.ChoiceField(choices=ExpenseKind.choices)


class AttachmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Attachment
        fields = ["id", "upload", "caption", "uploaded_at"]
        read_only_fields = fields


class InvestigationSerializer(serializers.ModelSerializer):
    investigator = UserRefSerializer()
    attachments = AttachmentSerializer(many=True)

    class Meta:
        model = Investigation
        fields = [
            "id",
            "visited_on",
            "investigator",
            "co_investigators",
            "findings",
            "household_confirmed",
            "attachments",
        ]
        read_only_fields = fields


class IncomeReadingSerializer(serializers.ModelSerializer):
    per_capita_income = money(read_only=True)
    living_standard = money(read_only=True)

    class Meta:
        model = IncomeReading
        fields = ["month", "per_capita_income", "living_standard"]
        read_only_fields = fields


class FollowUpSerializer(serializers.ModelSerializer):
    # A plain string: "status" names the file status everywhere else in the schema.
    status = serializers.CharField(help_text=_("due, done or missed"))

    class Meta:
        model = FollowUp
        fields = ["due_on", "status", "done_on", "outcome"]
        read_only_fields = fields


class FileEventSerializer(serializers.ModelSerializer):
    actor = UserRefSerializer(allow_null=True)
    kind = serializers.ChoiceField(choices=EventKind.choices)
    kind_display = serializers.CharField(source="get_kind_display")
    from_status = serializers.CharField(help_text=_("A file status, or empty."))
    to_status = serializers.CharField(help_text=_("A file status, or empty."))
    data = serializers.DictField()  # type: ignore[assignment]

    class Meta:
        model = FileEvent
        fields = ["at", "actor", "kind", "kind_display", "from_status", "to_status", "note", "data"]
        read_only_fields = fields


class FileDetailSerializer(FileListSerializer):
    household = HouseholdSerializer()
    causes = serializers.SerializerMethodField()
    exclusions_found = serializers.ListField(child=serializers.ChoiceField(Exclusion.choices))
    assessment = AssessmentSerializer(source="*")
    incomes = IncomeLineSerializer(many=True, source="incomelines")
    expenses = ExpenseLineSerializer(many=True, source="expenselines")
    investigations = InvestigationSerializer(many=True)
    readings = IncomeReadingSerializer(many=True)
    follow_ups = FollowUpSerializer(many=True)
    events = FileEventSerializer(many=True)
    created_by = UserRefSerializer()
    submitted_by = UserRefSerializer(allow_null=True)
    reviewed_by = UserRefSerializer(allow_null=True)
    approved_by = UserRefSerializer(allow_null=True)

    class Meta(FileListSerializer.Meta):
        fields = [
            *FileListSerializer.Meta.fields,
            "causes",
            "exclusions_found",
            "idle_able_members",
            "income_pledge",
            "finance_check_authorised",
            "incomes",
            "expenses",
            "investigations",
            "notice_start",
            "rejection_reason",
            "exit_kind",
            "exit_on",
            "exit_reason",
            "reopen_count",
            "readings",
            "follow_ups",
            "events",
            "created_by",
            "submitted_by",
            "reviewed_by",
            "approved_by",
            "created_at",
        ]
        read_only_fields = fields

    @staticmethod
    def _cause(code: int, primary: bool) -> dict[str, Any]:
        return {"code": code, "label": str(HardshipCause(code).label), "primary": primary}

    @extend_schema_field(CauseSerializer(many=True))
    def get_causes(self, file: HardshipFile) -> list[dict[str, Any]]:
        return [self._cause(code, index == 0) for index, code in enumerate(file.causes)]


# --- files: requests ----------------------------------------------------------------------


class FileFilterSerializer(serializers.Serializer):
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text=_("Applicant name (from the first character), ID number, phone or file number."),
    )
    status = serializers.ChoiceField(choices=FileStatus.choices, required=False)
    category = serializers.ChoiceField(choices=HardshipCategory.choices, required=False)


class QueueFilterSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=QueueKind.choices, required=False)


class WorkerFilterSerializer(serializers.Serializer):
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text=_("Name (from the first character), ID number or phone."),
    )


class OpenFileSerializer(serializers.Serializer):
    """An application. Causes and exclusions are checked by the service, which names the
    field at fault; household and applicant must lie in the user's subtree (else 404)."""

    household = serializers.IntegerField()
    applicant = serializers.IntegerField()
    primary_cause = serializers.IntegerField(help_text=_("A hardship cause code, 1 to 10."))
    secondary_causes = serializers.ListField(
        child=serializers.IntegerField(), default=list, help_text=_("Up to three cause codes.")
    )
    applied_on = serializers.DateField()
    exclusions_found = serializers.ListField(
        child=serializers.ChoiceField(Exclusion.choices), default=list
    )
    idle_able_members = serializers.IntegerField(min_value=0, max_value=99, default=0)
    income_pledge = serializers.BooleanField(default=False)
    finance_check_authorised = serializers.BooleanField(default=False)


class FinancesSerializer(serializers.Serializer):
    """Replaces every income and rigid expense line of the file."""

    incomes = IncomeLineSerializer(many=True)
    expenses = ExpenseLineSerializer(many=True)

    def _members_of_the_household(self, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        members = set(self.context["file"].household.members.values_list("id", flat=True))
        for number, line in enumerate(lines, start=1):
            if line["member_id"] is not None and line["member_id"] not in members:
                raise serializers.ValidationError(
                    _("Line %(n)d: that person is not a member of this household.") % {"n": number}
                )
        return lines

    def validate_incomes(self, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._members_of_the_household(lines)

    def validate_expenses(self, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._members_of_the_household(lines)


class CheckedByDefaultField(serializers.BooleanField):
    # A form post leaves an unticked box out; DRF then reads False. Here "left out" keeps
    # the default, so a multipart client that never heard of the field records True.
    default_empty_html = empty


class InvestigationRequestSerializer(serializers.Serializer):
    visited_on = serializers.DateField()
    findings = serializers.CharField(allow_blank=True)
    co_investigators = serializers.CharField(max_length=128, allow_blank=True, default="")
    household_confirmed = CheckedByDefaultField(default=True)
    attachments = serializers.ListField(
        child=serializers.FileField(), default=list, help_text=_("Photos or documents.")
    )
    captions = serializers.ListField(
        child=serializers.CharField(max_length=128, allow_blank=True),
        default=list,
        help_text=_("One caption per attachment, in the same order."),
    )


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(allow_blank=True, default="")


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True)


class IncomeReadingRequestSerializer(serializers.Serializer):
    month = serializers.DateField(help_text=_("Any day of the month."))
    per_capita_income = money(min_value=0)


class ExitRequestSerializer(serializers.Serializer):
    exit_kind = serializers.ChoiceField(choices=ExitKind.choices)
    exit_on = serializers.DateField()
    exit_reason = serializers.CharField(allow_blank=True, default="")
