"""The fund side of the API: funds, budgets with their balances, payment batches.

Thin edges over :mod:`gonghui.assistance` (``funds``, ``payments``, ``reports``): objects
come through ``for_user`` (a 404 outside the user's subtree), every change is one service
call, amounts are yuan strings with two decimals in and out (fen inside), and errors are
shaped by :mod:`gonghui.api.errors`.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from gonghui.accounts.models import User
from gonghui.assistance import funds, payments, reports
from gonghui.assistance.choices import AidKind, BatchStatus, FundSource
from gonghui.assistance.ledger import Balance, balances
from gonghui.assistance.models import Budget, Fund, PaymentBatch
from gonghui.assistance.money import to_fen, to_yuan
from gonghui.organisations.models import Organisation
from gonghui.organisations.scoping import get_for_user_or_404

from .serializers import OrganisationRefSerializer, money
from .views import ERRORS, GonghuiViewSet

# --- serializers ----------------------------------------------------------------------------


class FundSerializer(serializers.ModelSerializer):
    organisation = OrganisationRefSerializer(read_only=True)
    purposes = serializers.ListField(child=serializers.ChoiceField(AidKind.choices))

    class Meta:
        model = Fund
        fields = ["id", "code", "name", "source", "purposes", "requires_file", "active"]
        fields += ["organisation"]
        read_only_fields = fields


class FundWriteSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=32)
    name = serializers.CharField(max_length=128)
    # Declared fields leave the class (the metaclass), so no Field attribute is shadowed;
    # only the stubs mind.
    source = serializers.ChoiceField(choices=FundSource.choices)  # type: ignore[assignment]
    purposes = serializers.ListField(child=serializers.ChoiceField(AidKind.choices))
    requires_file = serializers.BooleanField(default=True)


class BalanceSerializer(serializers.Serializer):
    """A budget's money in yuan: total = available + committed + paid."""

    total = money()
    available = money()
    committed = money()
    paid = money()


def balance_data(balance: Balance) -> dict[str, Any]:
    return {
        "total": to_yuan(balance.total),
        "available": to_yuan(balance.available),
        "committed": to_yuan(balance.committed),
        "paid": to_yuan(balance.paid),
    }


class BudgetSerializer(serializers.ModelSerializer):
    fund = serializers.CharField(source="fund.code")
    organisation = OrganisationRefSerializer()
    parent = serializers.IntegerField(source="parent_id", allow_null=True)  # type: ignore[assignment]
    balance = serializers.SerializerMethodField()

    class Meta:
        model = Budget
        fields = ["id", "fund", "organisation", "year", "parent", "balance"]
        read_only_fields = fields

    @extend_schema_field(BalanceSerializer)
    def get_balance(self, budget: Budget) -> dict[str, Any]:
        found: dict[int, Balance] = self.context["balances"]
        return dict(BalanceSerializer(balance_data(found[budget.pk])).data)


class BudgetFilterSerializer(serializers.Serializer):
    fund = serializers.CharField(required=False, help_text="fund code")
    year = serializers.IntegerField(required=False, min_value=2000, max_value=2100)


class AmountSerializer(serializers.Serializer):
    amount = money(min_value=0)
    memo = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)


class AllocateSerializer(AmountSerializer):
    organisation = serializers.IntegerField(help_text="id of an organisation below the budget's")


class BatchSerializer(serializers.ModelSerializer):
    fund = serializers.CharField(source="fund.code")
    organisation = OrganisationRefSerializer()
    batch_status = serializers.ChoiceField(source="status", choices=BatchStatus.choices)
    total = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username")

    class Meta:
        model = PaymentBatch
        fields = ["id", "number", "fund", "organisation", "batch_status", "payment_count"]
        fields += ["total", "created_by", "created_at", "exported_at", "settled_at"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.DECIMAL)
    def get_total(self, batch: PaymentBatch) -> str:
        return str(to_yuan(batch.total_fen))


class BatchCreateSerializer(serializers.Serializer):
    fund = serializers.CharField(help_text="fund code")
    organisation = serializers.IntegerField(
        required=False, help_text="paying organisation (default: the user's)"
    )


class ExportSerializer(serializers.Serializer):
    # Not "format": DRF reads that query parameter to choose a renderer.
    file_format = serializers.ChoiceField(choices=[("csv", "CSV"), ("xlsx", "XLSX")])


class ImportSerializer(serializers.Serializer):
    result = serializers.FileField(help_text="the bank's result file, CSV or XLSX")


class RejectedRowSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    reason = serializers.CharField()


class ImportReportSerializer(serializers.Serializer):
    rows = serializers.IntegerField()
    paid = serializers.IntegerField()
    failed = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    already_imported = serializers.BooleanField()
    rejected = RejectedRowSerializer(many=True)


# --- views ----------------------------------------------------------------------------------


def visible_fund(user: User, code: str) -> Fund:
    fund = reports.visible_funds(user).filter(code=code).first()
    if fund is None:
        raise Http404
    return fund


@extend_schema(tags=["funds"])
@extend_schema_view(
    list=extend_schema(summary="Funds", responses={200: FundSerializer(many=True), **ERRORS}),
    create=extend_schema(
        summary="Define a fund",
        request=FundWriteSerializer,
        responses={201: FundSerializer, **ERRORS},
    ),
)
class FundViewSet(GonghuiViewSet):
    """Funds managed in the user's subtree or with a budget in it."""

    queryset = Fund.objects.none()
    serializer_class = FundSerializer

    def list(self, request: Request) -> Response:
        reports.require_reader(self.user)
        return self.page(reports.visible_funds(self.user).order_by("code"), FundSerializer)

    def create(self, request: Request) -> Response:
        data = self.read(FundWriteSerializer, request.data)
        fund = funds.define_fund(self.user, **data)
        return Response(FundSerializer(fund).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["funds"])
class BudgetViewSet(GonghuiViewSet):
    """Budgets in the user's subtree, with balances summed from the ledger."""

    queryset = Budget.objects.none()
    serializer_class = BudgetSerializer

    def get_queryset(self) -> QuerySet[Budget]:
        return Budget.objects.for_user(self.user).select_related("fund", "organisation")

    def budget(self) -> Budget:
        return get_for_user_or_404(self.get_queryset(), self.user, pk=self.kwargs["pk"])

    def answer(self, budgets: list[Budget], code: int = 200) -> Response:
        context = {**self.get_serializer_context(), "balances": balances(b.pk for b in budgets)}
        return Response(BudgetSerializer(budgets[0], context=context).data, status=code)

    @extend_schema(
        summary="Budgets with balances",
        parameters=[BudgetFilterSerializer],
        responses={200: BudgetSerializer(many=True), **ERRORS},
    )
    def list(self, request: Request) -> Response:
        reports.require_reader(self.user)
        params = self.read(BudgetFilterSerializer, request.query_params)
        budgets = self.get_queryset().order_by("year", "fund__code", "organisation__path")
        if "fund" in params:
            budgets = budgets.filter(fund__code=params["fund"])
        if "year" in params:
            budgets = budgets.filter(year=params["year"])
        rows = self.paginate_queryset(budgets) or []
        context = {**self.get_serializer_context(), "balances": balances(b.pk for b in rows)}
        return self.get_paginated_response(BudgetSerializer(rows, many=True, context=context).data)

    @extend_schema(summary="A budget", responses={200: BudgetSerializer, **ERRORS})
    def retrieve(self, request: Request, pk: str) -> Response:
        reports.require_reader(self.user)
        return self.answer([self.budget()])

    @extend_schema(
        operation_id="budgets_receive",
        summary="Receive money into a budget",
        request=AmountSerializer,
        responses={200: BudgetSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def receive(self, request: Request, pk: str) -> Response:
        budget = self.budget()
        data = self.read(AmountSerializer, request.data)
        funds.receive(self.user, budget, to_fen(data["amount"]), data["memo"])
        return self.answer([budget])

    @extend_schema(
        operation_id="budgets_allocate",
        summary="Allocate to an organisation below; answers with its budget",
        request=AllocateSerializer,
        responses={200: BudgetSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def allocate(self, request: Request, pk: str) -> Response:
        budget = self.budget()
        data = self.read(AllocateSerializer, request.data)
        org = get_for_user_or_404(Organisation, self.user, pk=data["organisation"])
        child = funds.allocate(self.user, budget, org, to_fen(data["amount"]), data["memo"])
        return self.answer([child])


BINARY = OpenApiResponse(OpenApiTypes.BINARY, description="The bank file (CSV or XLSX).")


@extend_schema(tags=["funds"])
@extend_schema_view(
    list=extend_schema(
        summary="Payment batches", responses={200: BatchSerializer(many=True), **ERRORS}
    ),
    retrieve=extend_schema(summary="A payment batch", responses={200: BatchSerializer, **ERRORS}),
    create=extend_schema(
        summary="Create a batch of the fund's help ready to be paid",
        request=BatchCreateSerializer,
        responses={201: BatchSerializer, **ERRORS},
    ),
)
class BatchViewSet(GonghuiViewSet):
    """Payment batches: create, download the bank file, upload the bank's result."""

    queryset = PaymentBatch.objects.none()
    serializer_class = BatchSerializer

    def get_queryset(self) -> QuerySet[PaymentBatch]:
        return PaymentBatch.objects.for_user(self.user).select_related(
            "fund", "organisation", "created_by"
        )

    def batch(self) -> PaymentBatch:
        return get_for_user_or_404(self.get_queryset(), self.user, pk=self.kwargs["pk"])

    def list(self, request: Request) -> Response:
        reports.require_reader(self.user)
        return self.page(self.get_queryset().order_by("-created_at", "-id"), BatchSerializer)

    def retrieve(self, request: Request, pk: str) -> Response:
        reports.require_reader(self.user)
        return Response(BatchSerializer(self.batch()).data)

    def create(self, request: Request) -> Response:
        data = self.read(BatchCreateSerializer, request.data)
        fund = visible_fund(self.user, data["fund"])
        org = None
        if "organisation" in data:
            org = get_for_user_or_404(Organisation, self.user, pk=data["organisation"])
        batched = payments.create_batch(self.user, fund, org)
        batch = self.get_queryset().get(pk=batched.batch.pk)
        return Response(BatchSerializer(batch).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="batches_export",
        summary="Download the bank file of the payments still pending (logged)",
        request=ExportSerializer,
        responses={
            (200, "text/csv"): BINARY,
            (200, payments.CONTENT_TYPES["xlsx"]): BINARY,
            **ERRORS,
        },
    )
    @action(detail=True, methods=["post"])
    def export(self, request: Request, pk: str) -> HttpResponse:
        batch = self.batch()
        fmt = self.read(ExportSerializer, request.data)["file_format"]
        filename, data, content_type = payments.export_batch(self.user, batch, fmt)
        response = HttpResponse(data, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @extend_schema(
        operation_id="batches_import_result",
        summary="Upload the bank's result file",
        request={"multipart/form-data": ImportSerializer},
        responses={200: ImportReportSerializer, **ERRORS},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="import-result",
        parser_classes=[MultiPartParser, FormParser, JSONParser],
    )
    def import_result(self, request: Request, pk: str) -> Response:
        batch = self.batch()
        upload = self.read(ImportSerializer, request.data)["result"]
        report = payments.import_result(self.user, batch, upload.name, upload.read())
        data = {
            "rows": report.rows,
            "paid": report.paid,
            "failed": report.failed,
            "unchanged": report.unchanged,
            "already_imported": report.already_imported,
            "rejected": [{"row": row, "reason": reason} for row, reason in report.rejected],
        }
        return Response(ImportReportSerializer(data).data)
