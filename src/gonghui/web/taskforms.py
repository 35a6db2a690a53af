"""Forms of the follow-up and supervision-task pages. They parse input; the services in
:mod:`gonghui.supervision` decide and name the field when they refuse."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from gonghui.accounts.models import User
from gonghui.hardship.choices import FollowUpStatus
from gonghui.organisations.models import Organisation
from gonghui.supervision.models import FindingResult, TaskKind
from gonghui.supervision.tasks import DEFAULT_SHARE
from gonghui.web.forms import DateInput

# How far below the assigning union the task form offers unions.
ASSIGN_LEVELS = 2


class ScheduleForm(forms.Form):
    due_on = forms.DateField(label=_("Due on"), widget=DateInput())
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=User.objects.none())
    purpose = forms.CharField(label=_("Purpose"), max_length=255)

    def __init__(self, *args: Any, owners: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = owners  # type: ignore[attr-defined]


class OutcomeForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Outcome"),
        choices=[(FollowUpStatus.DONE, _("Done")), (FollowUpStatus.MISSED, _("Could not reach"))],
    )
    done_on = forms.DateField(label=_("On"), widget=DateInput())
    outcome = forms.CharField(label=_("Notes"), widget=forms.Textarea(attrs={"rows": 3}))


class TaskForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=TaskKind.choices)
    title = forms.CharField(label=_("Title"), max_length=128)
    organisation = forms.ModelChoiceField(
        label=_("Assigned to"), queryset=Organisation.objects.none()
    )
    due_on = forms.DateField(label=_("Due on"), widget=DateInput())
    share_percent = forms.IntegerField(
        label=_("Share of files checked (%)"), initial=DEFAULT_SHARE, min_value=1, max_value=100
    )
    instructions = forms.CharField(
        label=_("Instructions"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        below = (
            Organisation.objects.filter(organisation.subtree_q())
            .exclude(pk=organisation.pk)
            .filter(depth__lte=organisation.depth + ASSIGN_LEVELS)
            .order_by("path")
        )
        self.fields["organisation"].queryset = below  # type: ignore[attr-defined]


class FindingForm(forms.Form):
    result = forms.ChoiceField(
        label=_("Result"),
        choices=[(FindingResult.OK, _("No problem")), (FindingResult.PROBLEM, _("Problem"))],
    )
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    rectify_by = forms.DateField(label=_("Rectify by"), required=False, widget=DateInput())


class SubmitForm(forms.Form):
    summary = forms.CharField(
        label=_("Summary of findings"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class RectificationForm(forms.Form):
    rectified_on = forms.DateField(label=_("Rectified on"), widget=DateInput())
    evidence = forms.CharField(label=_("Evidence"), widget=forms.Textarea(attrs={"rows": 2}))
