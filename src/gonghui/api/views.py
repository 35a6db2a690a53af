"""The REST API: thin edges over the scoped querysets and the hardship services.

Every object is fetched through ``for_user`` (an object outside the user's subtree is a
404, before any service is called); every state change is one call to
:mod:`gonghui.hardship.services`, which checks the role, the workflow and the race; every
error is shaped by :mod:`gonghui.api.errors`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, TypeVar, cast

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer, Serializer

from gonghui.accounts.choices import Capability
from gonghui.accounts.models import User
from gonghui.audit.context import acting_as
from gonghui.hardship import services
from gonghui.hardship.models import FileEvent, HardshipFile, Investigation
from gonghui.hardship.queue import QueueKind, queue_counts, work_queue
from gonghui.hardship.search import search_files
from gonghui.organisations.scoping import get_for_user_or_404
from gonghui.people.models import Household, Worker
from gonghui.people.search import person_q

from . import serializers as s
from .personal import reveals_personal

if TYPE_CHECKING:
    from rest_framework.decorators import ViewSetAction

ERRORS = {
    code: OpenApiResponse(s.ErrorSerializer, description=text)
    for code, text in (
        (400, "The input is invalid or a rule of the domain forbids it; `field` names it."),
        (403, "The user's role does not allow this action."),
        (404, "No such object in the user's organisation subtree."),
        (409, "Someone else changed the file first; reload it."),
    )
}
FILE_ANSWER = {200: s.FileDetailSerializer, **ERRORS}
View = TypeVar("View", bound=Callable[..., Response])


def file_action(
    summary: str, request: Any, description: str | None = None
) -> Callable[[View], ViewSetAction[View]]:
    """``POST /api/files/{id}/<name>/``: one service call, answered with the whole file.
    The name is the method's, with dashes (``periodic_review`` -> ``periodic-review``)."""

    def decorate(method: View) -> ViewSetAction[View]:
        name = method.__name__
        routed = action(detail=True, methods=["post"], url_path=name.replace("_", "-"))(method)
        return extend_schema(
            operation_id=f"files_{name}",
            summary=summary,
            description=description,
            request=request,
            responses=FILE_ANSWER,
        )(routed)

    return decorate


class GonghuiViewSet(viewsets.GenericViewSet):
    """The base of every API view: our error handler, audit attribution, typed helpers."""

    lookup_value_regex = r"\d+"

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        # The audit middleware runs before DRF authenticates (HTTP Basic), so attribute
        # the changes made while serving this request to the authenticated user here.
        self._acting = ExitStack()
        self._acting.enter_context(acting_as(request.user, "api"))

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        if hasattr(self, "_acting"):
            self._acting.close()
        return super().finalize_response(request, response, *args, **kwargs)

    @property
    def user(self) -> User:
        return cast(User, self.request.user)

    def read(self, serializer: type[Serializer], data: Any, **context: Any) -> dict[str, Any]:
        """The validated input, or a 400 naming the field."""
        checked = serializer(data=data, context={**self.get_serializer_context(), **context})
        checked.is_valid(raise_exception=True)
        return dict(checked.validated_data)

    def context(self, *, reveal: bool) -> dict[str, Any]:
        return {**self.get_serializer_context(), "reveal": reveal}

    def page(self, queryset: QuerySet[Any], serializer: type[BaseSerializer]) -> Response:
        """One page of ``queryset``; lists never show personal data unmasked."""
        rows = self.paginate_queryset(queryset)
        data = serializer(rows, many=True, context=self.context(reveal=False)).data
        return self.get_paginated_response(data)

    def one(self, obj: Any, serializer: type[BaseSerializer], code: int = 200) -> Response:
        """One object: personal data unmasked if the user's role may see it."""
        reveal = reveals_personal(self.user, single_household=True)
        return Response(serializer(obj, context=self.context(reveal=reveal)).data, status=code)


# --- files --------------------------------------------------------------------------------


def lines(rows: Iterable[dict[str, Any]]) -> list[services.Line]:
    return [services.Line(r["kind"], r["amount"], r["note"], r["member_id"]) for r in rows]


@extend_schema(tags=["files"])
class FileViewSet(GonghuiViewSet):
    """Hardship files: search, read, open, and every step of the workflow."""

    serializer_class = s.FileDetailSerializer
    queryset = HardshipFile.objects.none()  # the real one is scoped per request

    def get_queryset(self) -> QuerySet[HardshipFile]:
        return HardshipFile.objects.for_user(self.user).with_people()

    def detail_queryset(self) -> QuerySet[HardshipFile]:
        return (
            self.get_queryset()
            .select_related("household__organisation", "created_by", "submitted_by", "reviewed_by")
            .select_related("approved_by")
            .prefetch_related(
                "household__members",
                "incomelines",
                "expenselines",
                Prefetch(
                    "investigations",
                    Investigation.objects.select_related("investigator").prefetch_related(
                        "attachments"
                    ),
                ),
                "readings",
                "follow_ups",
                Prefetch("events", FileEvent.objects.select_related("actor")),
            )
        )

    def file(self, queryset: QuerySet[HardshipFile] | None = None) -> HardshipFile:
        """The file of the URL, or 404 if it is not in the user's subtree."""
        files = self.get_queryset() if queryset is None else queryset
        return get_for_user_or_404(files, self.user, pk=self.kwargs["pk"])

    def answer(self, file: HardshipFile, code: int = status.HTTP_200_OK) -> Response:
        return self.one(self.detail_queryset().get(pk=file.pk), s.FileDetailSerializer, code)

    @extend_schema(
        summary="Search files",
        parameters=[s.FileFilterSerializer],
        responses={200: s.FileListSerializer(many=True), 400: ERRORS[400]},
    )
    def list(self, request: Request) -> Response:
        params = self.read(s.FileFilterSerializer, request.query_params)
        q = params.get("q", "").strip()
        files = search_files(self.user, q) if q else self.get_queryset()
        if "status" in params:
            files = files.filter(status=params["status"])
        if "category" in params:
            files = files.filter(category=params["category"])
        return self.page(files, s.FileListSerializer)

    @extend_schema(summary="Read a file", responses={200: s.FileDetailSerializer, 404: ERRORS[404]})
    def retrieve(self, request: Request, pk: str) -> Response:
        return self.one(self.file(self.detail_queryset()), s.FileDetailSerializer)

    @extend_schema(
        operation_id="files_open",
        summary="Open an application",
        request=s.OpenFileSerializer,
        responses={201: s.FileDetailSerializer, **ERRORS},
    )
    def create(self, request: Request) -> Response:
        data = self.read(s.OpenFileSerializer, request.data)
        homes = Household.objects.select_related("organisation", "region")
        workers = Worker.objects.select_related("organisation")
        application = services.Application(
            household=get_for_user_or_404(homes, self.user, pk=data.pop("household")),
            applicant=get_for_user_or_404(workers, self.user, pk=data.pop("applicant")),
            **data,
        )
        file = services.open_application(self.user, application)
        return self.answer(file, status.HTTP_201_CREATED)

    @file_action("Replace the finances", s.FinancesSerializer)
    def finances(self, request: Request, pk: str) -> Response:
        file = self.file()
        data = self.read(s.FinancesSerializer, request.data, file=file)
        services.set_finances(self.user, file, lines(data["incomes"]), lines(data["expenses"]))
        return self.answer(file)

    @file_action(
        "Record the home investigation",
        s.InvestigationRequestSerializer,
        description="JSON, or multipart with `attachments` (files) and `captions`.",
    )
    def investigation(self, request: Request, pk: str) -> Response:
        file = self.file()
        data = self.read(s.InvestigationRequestSerializer, request.data)
        captions = [*data["captions"], *[""] * len(data["attachments"])]
        visit = services.Visit(
            visited_on=data["visited_on"],
            findings=data["findings"],
            co_investigators=data["co_investigators"],
            household_confirmed=data["household_confirmed"],
            uploads=list(zip(data["attachments"], captions, strict=False)),
        )
        services.record_investigation(self.user, file, visit)
        return self.answer(file)

    @file_action("Submit for public notice", None)
    def submit(self, request: Request, pk: str) -> Response:
        return self.answer(services.submit_for_notice(self.user, self.file()))

    @file_action("Review after the notice", s.NoteSerializer)
    def review(self, request: Request, pk: str) -> Response:
        file = self.file()
        note = self.read(s.NoteSerializer, request.data)["note"]
        return self.answer(services.review(self.user, file, note))

    @file_action("Approve and file", s.NoteSerializer)
    def approve(self, request: Request, pk: str) -> Response:
        file = self.file()
        note = self.read(s.NoteSerializer, request.data)["note"]
        return self.answer(services.approve(self.user, file, note))

    @file_action("Reject", s.ReasonSerializer)
    def reject(self, request: Request, pk: str) -> Response:
        file = self.file()
        reason = self.read(s.ReasonSerializer, request.data)["reason"]
        return self.answer(services.reject(self.user, file, reason))

    @file_action("Periodic review", s.NoteSerializer)
    def periodic_review(self, request: Request, pk: str) -> Response:
        file = self.file()
        note = self.read(s.NoteSerializer, request.data)["note"]
        services.periodic_review(self.user, file, note)
        return self.answer(file)

    @file_action("Record a monthly income", s.IncomeReadingRequestSerializer)
    def income_reading(self, request: Request, pk: str) -> Response:
        file = self.file()
        data = self.read(s.IncomeReadingRequestSerializer, request.data)
        services.record_income_reading(self.user, file, data["month"], data["per_capita_income"])
        return self.answer(file)

    @file_action("Exit the file", s.ExitRequestSerializer)
    def exit(self, request: Request, pk: str) -> Response:
        file = self.file()
        data = self.read(s.ExitRequestSerializer, request.data)
        services.exit_file(self.user, file, data["exit_kind"], data["exit_on"], data["exit_reason"])
        return self.answer(file)

    @file_action("Reopen (relapse)", s.ReasonSerializer)
    def reopen(self, request: Request, pk: str) -> Response:
        file = self.file()
        reason = self.read(s.ReasonSerializer, request.data)["reason"]
        return self.answer(services.reopen(self.user, file, reason))


# --- work queue ---------------------------------------------------------------------------


@extend_schema(tags=["queue"])
class QueueViewSet(GonghuiViewSet):
    """What needs the user now (hardship.queue)."""

    queryset = HardshipFile.objects.none()
    serializer_class = s.QueueItemSerializer

    @extend_schema(
        summary="The work queue",
        parameters=[s.QueueFilterSerializer],
        responses={200: s.QueueItemSerializer(many=True), 400: ERRORS[400]},
    )
    def list(self, request: Request) -> Response:
        kind = self.read(s.QueueFilterSerializer, request.query_params).get("kind")
        files = work_queue(self.user, kind).select_related("household__region")
        return self.page(files, s.QueueItemSerializer)

    @extend_schema(
        operation_id="queue_counts",
        summary="How many files wait, by kind",
        responses=s.QueueCountSerializer(many=True),
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def counts(self, request: Request) -> Response:
        rows = [
            {"queue_reason": kind, "label": QueueKind(kind).label, "count": count}
            for kind, count in queue_counts(self.user).items()
        ]
        return Response(s.QueueCountSerializer(rows, many=True).data)


# --- people -------------------------------------------------------------------------------


class CanEditPeople(permissions.BasePermission):
    """Reading is for everyone in scope; creating and changing workers needs EDIT_PEOPLE."""

    message = _("Your role does not allow this.")

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return bool(request.user.is_authenticated and request.user.can(Capability.EDIT_PEOPLE))


@extend_schema(tags=["people"])
@extend_schema_view(
    list=extend_schema(
        summary="Search workers",
        parameters=[s.WorkerFilterSerializer],
        responses={200: s.WorkerSerializer(many=True), 400: ERRORS[400]},
    ),
    retrieve=extend_schema(summary="Read a worker", responses={200: s.WorkerSerializer, **ERRORS}),
    create=extend_schema(
        summary="Register a worker",
        request=s.WorkerWriteSerializer,
        responses={201: s.WorkerSerializer, **ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change a worker",
        request=s.WorkerWriteSerializer,
        responses={200: s.WorkerSerializer, **ERRORS},
    ),
)
class WorkerViewSet(GonghuiViewSet):
    """Workers in the user's subtree; ID numbers and phones masked in the list."""

    queryset = Worker.objects.none()
    serializer_class = s.WorkerSerializer
    permission_classes = [permissions.IsAuthenticated, CanEditPeople]

    def get_queryset(self) -> QuerySet[Worker]:
        workers = Worker.objects.for_user(self.user).select_related("region", "organisation")
        return workers.order_by("name", "id")

    def worker(self) -> Worker:
        return get_for_user_or_404(self.get_queryset(), self.user, pk=self.kwargs["pk"])

    def list(self, request: Request) -> Response:
        q = self.read(s.WorkerFilterSerializer, request.query_params).get("q", "").strip()
        workers = self.get_queryset().filter(person_q(q)) if q else self.get_queryset()
        return self.page(workers, s.WorkerSerializer)

    def retrieve(self, request: Request, pk: str) -> Response:
        return self.one(self.worker(), s.WorkerSerializer)

    def create(self, request: Request) -> Response:
        form = s.WorkerWriteSerializer(data=request.data, context=self.get_serializer_context())
        return self.saved(form, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        form = s.WorkerWriteSerializer(
            self.worker(), data=request.data, partial=True, context=self.get_serializer_context()
        )
        return self.saved(form)

    def saved(self, form: s.WorkerWriteSerializer, code: int = status.HTTP_200_OK) -> Response:
        form.is_valid(raise_exception=True)
        worker = form.save()  # Worker.full_clean() raises a ValidationError naming the field
        return self.one(self.get_queryset().get(pk=worker.pk), s.WorkerSerializer, code)


@extend_schema(tags=["people"])
class HouseholdViewSet(GonghuiViewSet):
    """A household with its members and files."""

    queryset = Household.objects.none()
    serializer_class = s.HouseholdDetailSerializer

    @extend_schema(
        summary="Read a household", responses={200: s.HouseholdDetailSerializer, **ERRORS}
    )
    def retrieve(self, request: Request, pk: str) -> Response:
        homes = Household.objects.select_related("organisation", "region").prefetch_related(
            "members", "files"
        )
        return self.one(get_for_user_or_404(homes, self.user, pk=pk), s.HouseholdDetailSerializer)
