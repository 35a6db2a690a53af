"""Screening rules (list, one rule with its dry run and run, a new rule or a copy, a new
version of a rule's definition, the background jobs that do them, one run) and the start
of the fuzzy linkage of an external list."""

from django.urls import URLPattern, path

from .views import rules

urlpatterns: list[URLPattern] = [
    path("rules/", rules.rule_list, name="rule-list"),
    path("rules/all/", rules.rule_all, name="rule-all"),
    path("rules/new/", rules.rule_new, name="rule-new"),
    path("rules/<int:pk>/", rules.rule_detail, name="rule-detail"),
    path("rules/<int:pk>/edit/", rules.rule_edit, name="rule-edit"),
    path("rules/jobs/<int:pk>/", rules.rule_job, name="rule-job"),
    path("rules/jobs/<int:pk>/resume/", rules.rule_job_resume, name="rule-job-resume"),
    path("rules/runs/<int:pk>/", rules.rule_run, name="rule-run"),
    path("rules/linkage/<int:pk>/", rules.linkage_start, name="rule-linkage-start"),
]
