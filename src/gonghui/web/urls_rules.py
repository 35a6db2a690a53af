"""Screening rules (list, one rule with its dry run and run, one run) and the start of the
fuzzy linkage of an external list."""

from django.urls import URLPattern, path

from .views import rules

urlpatterns: list[URLPattern] = [
    path("rules/", rules.rule_list, name="rule-list"),
    path("rules/<int:pk>/", rules.rule_detail, name="rule-detail"),
    path("rules/runs/<int:pk>/", rules.rule_run, name="rule-run"),
    path("rules/linkage/<int:pk>/", rules.linkage_start, name="rule-linkage-start"),
]
