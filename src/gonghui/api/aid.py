"""The API of the household side of assistance: the lines of a plan (list, propose, add,
edit, approve, cancel) and holiday-visit campaigns (list, progress, targets, record a visit).

Thin edges, as in :mod:`gonghui.api.views`: objects come through ``for_user`` (a 404
outside the subtree), each change is one call to :mod:`gonghui.assistance.planning` or
:mod:`gonghui.assistance.campaigns`, which check role and rules. Amounts are strings of
yuan with two decimals; the services work in fen.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from gonghui.assistance import campaigns, planning
from gonghui.assistance.choices import AidKind, CampaignStatus, LineStatus, TargetKind
from gonghui.assistance.funds import usable_funds
from gonghui.assistance.models import AssistanceLine, Campaign, CampaignTarget, Fund
from gonghui.assistance.money import to_fen, to_yuan
from gonghui.assistance.rules import explain
from gonghui.errors import DomainError
from gonghui.hardship.models import HardshipFile
from gonghui.organisations.scoping import get_for_user_or_404

from .serializers import money
from .views import ERRORS, GonghuiViewSet


class YuanField(serializers.DecimalField):
    """An amount kept in fen, shown and read as yuan with two decimals."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_digits=14, decimal_places=2, coerce_to_string=True, **kwargs)

    def to_representation(self, value: Any) -> Any:
        return None if value is None else super().to_representation(to_yuan(int(value)))


# --- serializers ------------------------------------------------------------------------


class AidLineSerializer(serializers.ModelSerializer):
    """One line of help: what the rules proposed, the cap and the rule that set it."""

    amount = YuanField(source="amount_fen", read_only=True)
    proposed = YuanField(source="proposed_fen", read_only=True)
    cap = YuanField(source="cap_fen", read_only=True, allow_null=True)
    cap_text = serializers.SerializerMethodField()
    member_name = serializers.CharField(source="member.name", read_only=True, default=None)
    fund_name = serializers.CharField(source="fund.name", read_only=True, default=None)
    aid_kind = serializers.ChoiceField(source="kind", choices=AidKind.choices, read_only=True)
    line_status = serializers.ChoiceField(
        source="status", choices=LineStatus.choices, read_only=True
    )
    needs_level = serializers.CharField(read_only=True, help_text="An organisation kind.")
    created_by: serializers.StringRelatedField = serializers.StringRelatedField()
    approved_by: serializers.StringRelatedField = serializers.StringRelatedField()

    class Meta:
        model = AssistanceLine
        fields = [
            "id",
            "file",
            "household",
            "member",
            "member_name",
            "year",
            "aid_kind",
            "cash",
            "amount",
            "proposed",
            "cap",
            "cap_rule",
            "cap_text",
            "fund",
            "fund_name",
            "description",
            "line_status",
            "needs_level",
            "created_by",
            "approved_by",
            "approved_at",
            "failure_reason",
        ]
        read_only_fields = fields

    def get_cap_text(self, line: AssistanceLine) -> str:
        """The rule that set the cap, in words, in the language of the request."""
        return explain(line.cap_rule, line.cap_params or {}) if line.cap_rule else ""


class LineFilterSerializer(serializers.Serializer):
    file = serializers.IntegerField(required=False)
    year = serializers.IntegerField(required=False)
    line_status = serializers.ChoiceField(choices=LineStatus.choices, required=False)


class ProposeSerializer(serializers.Serializer):
    file = serializers.IntegerField()
    year = serializers.IntegerField(required=False)


class LineAddSerializer(serializers.Serializer):
    file = serializers.IntegerField()
    year = serializers.IntegerField(required=False)
    aid_kind = serializers.ChoiceField(choices=AidKind.choices)
    cash = serializers.BooleanField(default=True)
    amount = money(required=False, min_value=0)
    member = serializers.IntegerField(required=False, allow_null=True)
    fund = serializers.IntegerField(required=False, allow_null=True)
    description = serializers.CharField(max_length=255, required=False, allow_blank=True)


class LineEditSerializer(serializers.Serializer):
    amount = money(min_value=0)
    fund = serializers.IntegerField(required=False, allow_null=True)
    description = serializers.CharField(max_length=255, required=False, allow_blank=True)


class CancelReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True)


class ApproveManySerializer(serializers.Serializer):
    lines = serializers.ListField(child=serializers.IntegerField(), allow_empty=False)


class ApprovedSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    total = money()
    skipped = serializers.IntegerField()


class CampaignSerializer(serializers.ModelSerializer):
    """A holiday-visit campaign with its standard per kind of target."""

    organisation_name = serializers.CharField(source="organisation.name", read_only=True)
    fund_name = serializers.CharField(source="fund.name", read_only=True)
    campaign_status = serializers.ChoiceField(
        source="status", choices=CampaignStatus.choices, read_only=True
    )

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "organisation",
            "organisation_name",
            "fund",
            "fund_name",
            "year",
            "starts_on",
            "ends_on",
            "campaign_status",
            "standards",
        ]
        read_only_fields = fields


class ProgressRowSerializer(serializers.Serializer):
    organisation = serializers.IntegerField(source="organisation.pk", allow_null=True, default=None)
    organisation_name = serializers.CharField(
        source="organisation.name", allow_null=True, default=None
    )
    targets = serializers.IntegerField()
    visited = serializers.IntegerField()
    share = serializers.DecimalField(max_digits=5, decimal_places=1, allow_null=True)
    cash = YuanField(source="cash_fen")


class TargetSerializer(serializers.ModelSerializer):
    """Someone to visit, with the standard and the visit once recorded."""

    target_kind = serializers.ChoiceField(source="kind", choices=TargetKind.choices)
    worker_name = serializers.CharField(source="worker.name")
    organisation_name = serializers.CharField(source="organisation.name")
    amount = YuanField(source="amount_fen")
    visited_on = serializers.SerializerMethodField()

    class Meta:
        model = CampaignTarget
        fields = [
            "id",
            "target_kind",
            "worker",
            "worker_name",
            "organisation",
            "organisation_name",
            "amount",
            "goods",
            "visited_on",
        ]
        read_only_fields = fields

    def get_visited_on(self, target: CampaignTarget) -> str | None:
        visit = getattr(target, "visit", None)
        return visit.visited_on.isoformat() if visit is not None else None


class TargetFilterSerializer(serializers.Serializer):
    visited = serializers.BooleanField(required=False, allow_null=True, default=None)
    organisation = serializers.IntegerField(required=False)


class VisitRequestSerializer(serializers.Serializer):
    visited_on = serializers.DateField()
    visitors = serializers.CharField(max_length=255)
    cash = money(required=False, min_value=0, default="0")
    goods = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    photo = serializers.FileField(required=False, allow_null=True, default=None)


class VisitSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    target = serializers.IntegerField(source="target_id")
    visited_on = serializers.DateField()
    visitors = serializers.CharField()
    cash = YuanField(source="cash_fen")
    goods = serializers.CharField()
    line = serializers.IntegerField(source="line_id", allow_null=True)


# --- lines ------------------------------------------------------------------------------


LINE_ANSWER = {200: AidLineSerializer, **ERRORS}


@extend_schema(tags=["assistance"])
class AidLineViewSet(GonghuiViewSet):
    """Assistance lines of filed households: the plan by cause, edits within the caps,
    four-eyes approval that commits the money against the budget."""

    serializer_class = AidLineSerializer
    queryset = AssistanceLine.objects.none()

    def get_queryset(self) -> QuerySet[AssistanceLine]:
        return (
            AssistanceLine.objects.for_user(self.user)
            .select_related("fund", "member", "created_by", "approved_by")
            .order_by("-year", "id")
        )

    def line(self) -> AssistanceLine:
        lines = AssistanceLine.objects.select_related("file", "fund", "organisation")
        return get_for_user_or_404(lines, self.user, pk=self.kwargs["pk"])

    def file(self, pk: int) -> HardshipFile:
        try:
            return get_for_user_or_404(
                HardshipFile.objects.with_people().select_related("household"), self.user, pk=pk
            )
        except Http404:
            raise DomainError(_("No such file in your organisation."), field="file") from None

    def fund(self, pk: int | None) -> Fund | None:
        if pk is None:
            return None
        found = next((fund for fund in usable_funds(self.user) if fund.pk == pk), None)
        if found is None:
            raise DomainError(_("No such fund."), field="fund")
        return found

    def answer_line(self, line: AssistanceLine, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=line.pk)
        return Response(AidLineSerializer(fresh, context=self.get_serializer_context()).data, code)

    @extend_schema(
        summary="List assistance lines",
        parameters=[LineFilterSerializer],
        responses={200: AidLineSerializer(many=True), 400: ERRORS[400]},
    )
    def list(self, request: Request) -> Response:
        params = self.read(LineFilterSerializer, request.query_params)
        lines = self.get_queryset()
        for name, field in (("file", "file"), ("year", "year"), ("line_status", "status")):
            if name in params:
                lines = lines.filter(**{field: params[name]})
        return self.page(lines, AidLineSerializer)

    @extend_schema(summary="Read an assistance line", responses=LINE_ANSWER)
    def retrieve(self, request: Request, pk: str) -> Response:
        return self.answer_line(self.line())

    @extend_schema(
        operation_id="aid_lines_propose",
        summary="Propose a plan by cause",
        description="Replaces the file's lines still planned for the year.",
        request=ProposeSerializer,
        responses={201: AidLineSerializer(many=True), **ERRORS},
    )
    @action(detail=False, methods=["post"])
    def propose(self, request: Request) -> Response:
        data = self.read(ProposeSerializer, request.data)
        file = self.file(data["file"])
        lines = planning.propose_plan(self.user, file, data.get("year"))
        fresh = self.get_queryset().filter(pk__in=[line.pk for line in lines])
        body = AidLineSerializer(fresh, many=True, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="aid_lines_add",
        summary="Add help by hand (cash or non-cash)",
        request=LineAddSerializer,
        responses={201: AidLineSerializer, **ERRORS},
    )
    def create(self, request: Request) -> Response:
        data = self.read(LineAddSerializer, request.data)
        file = self.file(data["file"])
        amount = data.get("amount")
        entry = planning.LineInput(
            kind=data["aid_kind"],
            amount_fen=to_fen(amount) if amount is not None else 0,
            cash=data["cash"],
            member_id=data.get("member"),
            fund=self.fund(data.get("fund")),
            description=data.get("description", ""),
        )
        line = planning.add_line(self.user, file, entry, data.get("year"))
        return self.answer_line(line, status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="aid_lines_edit",
        summary="Change a planned line",
        description="Amount within the caps, the fund that pays, a note.",
        request=LineEditSerializer,
        responses=LINE_ANSWER,
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        line = self.line()
        data = self.read(LineEditSerializer, request.data)
        fund = self.fund(data["fund"]) if "fund" in data else line.fund
        edited = planning.edit_line(
            self.user,
            line,
            amount_fen=to_fen(data["amount"]),
            fund=fund,
            description=data.get("description", line.description),
        )
        return self.answer_line(edited)

    @extend_schema(
        operation_id="aid_lines_approve",
        summary="Approve a line",
        description="By someone other than its maker, at the level its amount needs.",
        request=None,
        responses=LINE_ANSWER,
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        return self.answer_line(planning.approve_line(self.user, self.line()))

    @extend_schema(
        operation_id="aid_lines_cancel",
        summary="Cancel a line not yet sent to the bank",
        request=CancelReasonSerializer,
        responses=LINE_ANSWER,
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        line = self.line()
        reason = self.read(CancelReasonSerializer, request.data).get("reason", "")
        return self.answer_line(planning.cancel_line(self.user, line, reason))

    @extend_schema(
        operation_id="aid_lines_approve_many",
        summary="Approve many lines at once",
        description="All or none; lines the user may not approve are skipped and counted.",
        request=ApproveManySerializer,
        responses={200: ApprovedSerializer, **ERRORS},
    )
    @action(detail=False, methods=["post"], url_path="approve-many")
    def approve_many(self, request: Request) -> Response:
        ids = self.read(ApproveManySerializer, request.data)["lines"]
        result = planning.approve_lines(self.user, ids)
        body = {
            "count": result.count,
            "total": to_yuan(result.total_fen),
            "skipped": result.skipped,
        }
        return Response(ApprovedSerializer(body).data)


# --- campaigns --------------------------------------------------------------------------


@extend_schema(tags=["campaigns"])
class CampaignViewSet(GonghuiViewSet):
    """Holiday-visit campaigns of the user's subtree and those opened above it."""

    serializer_class = CampaignSerializer
    queryset = Campaign.objects.none()

    def get_queryset(self) -> QuerySet[Campaign]:
        found = campaigns.visible_campaigns(self.user).select_related("organisation", "fund")
        return found.order_by("-starts_on", "-id")

    def campaign(self) -> Campaign:
        try:
            return self.get_queryset().get(pk=self.kwargs["pk"])
        except Campaign.DoesNotExist:
            raise Http404 from None

    @extend_schema(summary="List campaigns", responses=CampaignSerializer(many=True))
    def list(self, request: Request) -> Response:
        return self.page(self.get_queryset(), CampaignSerializer)

    @extend_schema(summary="Read a campaign", responses={200: CampaignSerializer, 404: ERRORS[404]})
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(CampaignSerializer(self.campaign()).data)

    @extend_schema(
        operation_id="campaigns_progress",
        summary="Progress per organisation",
        description="One row per organisation one level below the user's, then the total "
        "(organisation null).",
        responses={200: ProgressRowSerializer(many=True), 404: ERRORS[404]},
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def progress(self, request: Request, pk: str) -> Response:
        rows = campaigns.progress(self.user, self.campaign())
        return Response(ProgressRowSerializer(rows, many=True).data)

    @extend_schema(
        operation_id="campaigns_targets",
        summary="People to visit",
        parameters=[TargetFilterSerializer],
        responses={200: TargetSerializer(many=True), 400: ERRORS[400], 404: ERRORS[404]},
    )
    @action(detail=True, methods=["get"])
    def targets(self, request: Request, pk: str) -> Response:
        campaign = self.campaign()
        params = self.read(TargetFilterSerializer, request.query_params)
        found = (
            CampaignTarget.objects.for_user(self.user)
            .filter(campaign=campaign)
            .select_related("worker", "organisation", "visit")
            .order_by("organisation__path", "id")
        )
        if params.get("visited") is not None:
            found = found.filter(visit__isnull=not params["visited"])
        if "organisation" in params:
            found = found.filter(organisation_id=params["organisation"])
        return self.page(found, TargetSerializer)


@extend_schema(tags=["campaigns"])
class TargetViewSet(GonghuiViewSet):
    """Recording the visit to one target of a campaign."""

    serializer_class = TargetSerializer
    queryset = CampaignTarget.objects.none()

    @extend_schema(
        operation_id="targets_visit",
        summary="Record a visit",
        description="JSON, or multipart with a `photo`. Cash given is paid through the "
        "ledger from the campaign's fund.",
        request=VisitRequestSerializer,
        responses={201: VisitSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def visit(self, request: Request, pk: str) -> Response:
        targets = CampaignTarget.objects.select_related("campaign", "organisation")
        target = get_for_user_or_404(targets, self.user, pk=pk)
        data = self.read(VisitRequestSerializer, request.data)
        visit = campaigns.record_visit(
            self.user,
            target,
            visited_on=data["visited_on"],
            visitors=data["visitors"],
            cash_fen=to_fen(data["cash"]),
            goods=data["goods"],
            photo=data["photo"],
        )
        return Response(VisitSerializer(visit).data, status=status.HTTP_201_CREATED)


router = SimpleRouter()
router.register("aid/lines", AidLineViewSet, basename="api-aid-line")
router.register("aid/campaigns", CampaignViewSet, basename="api-campaign")
router.register("aid/targets", TargetViewSet, basename="api-target")
urlpatterns = router.urls
