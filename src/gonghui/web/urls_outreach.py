"""The outreach worklist, precision per screening rule and the coverage view."""

from django.urls import URLPattern, path

from .views import outreach

urlpatterns: list[URLPattern] = [
    path("outreach/", outreach.worklist, name="outreach-list"),
    path("outreach/candidates/<int:pk>/", outreach.candidate_detail, name="outreach-candidate"),
    path("outreach/candidates/<int:pk>/apply/", outreach.candidate_apply, name="outreach-apply"),
    path("outreach/rules/", outreach.rule_precision, name="outreach-rules"),
    path("outreach/coverage/", outreach.coverage, name="outreach-coverage"),
    path("outreach/coverage/<int:pk>/", outreach.coverage_of, name="outreach-coverage-of"),
]
