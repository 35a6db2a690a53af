from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path

from . import aidpolicy
from .views import actions, apply, audit, files, notices, people, policies, queue

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", queue.queue, name="queue"),
    path("files/", files.file_list, name="file-list"),
    path("files/new/", apply.file_new, name="file-new"),
    path("files/<int:pk>/", files.file_detail, name="file-detail"),
    path("files/<int:pk>/finances/", apply.file_finances, name="file-finances"),
    path("files/<int:pk>/investigate/", actions.file_investigate, name="file-investigate"),
    path("files/<int:pk>/submit/", actions.file_submit, name="file-submit"),
    path("files/<int:pk>/review/", actions.file_review, name="file-review"),
    path("files/<int:pk>/approve/", actions.file_approve, name="file-approve"),
    path("files/<int:pk>/reject/", actions.file_reject, name="file-reject"),
    path(
        "files/<int:pk>/periodic-review/",
        actions.file_periodic_review,
        name="file-periodic-review",
    ),
    path(
        "files/<int:pk>/income-reading/",
        actions.file_income_reading,
        name="file-income-reading",
    ),
    path("files/<int:pk>/exit/", actions.file_exit, name="file-exit"),
    path("files/<int:pk>/reopen/", actions.file_reopen, name="file-reopen"),
    path("attachments/<int:pk>/", files.attachment, name="attachment"),
    path("households/<int:pk>/", people.household_detail, name="household-detail"),
    path("households/<int:pk>/members/new/", people.member_new, name="member-new"),
    path(
        "households/<int:pk>/members/<int:member_pk>/edit/",
        people.member_edit,
        name="member-edit",
    ),
    path("workers/new/", people.worker_new, name="worker-new"),
    path("workers/id-preview/", people.worker_id_preview, name="worker-id-preview"),
    path("workers/<int:pk>/edit/", people.worker_edit, name="worker-edit"),
    path("notices/", notices.notice_list, name="notice-list"),
    path("policies/", policies.policy_list, name="policy-list"),
    path("policies/new/", policies.policy_new, name="policy-new"),
    path("policies/<int:pk>/edit/", policies.policy_edit, name="policy-edit"),
    path("policies/aid/new/", aidpolicy.aid_policy_new, name="aid-policy-new"),
    path("policies/aid/<int:pk>/edit/", aidpolicy.aid_policy_edit, name="aid-policy-edit"),
    path("policies/standards/new/", policies.standard_new, name="standard-new"),
    path("policies/standards/<int:pk>/edit/", policies.standard_edit, name="standard-edit"),
    path("audit/", audit.audit_list, name="audit-list"),
    # Assistance: the fund side (funds, budgets, batches, fund views) and the household
    # side (plans, approvals, holiday-visit campaigns).
    path("", include("gonghui.web.urls_funds")),
    path("", include("gonghui.web.urls_aid")),
    # Supervision: follow-ups, supervision tasks and the daily digest.
    path("", include("gonghui.web.urls_tasks")),
    path("", include("gonghui.web.urls_supervision")),
    # Discovery: roster and list uploads, the outreach worklist and coverage, link review.
    path("", include("gonghui.web.urls_imports")),
    path("", include("gonghui.web.urls_outreach")),
    path("", include("gonghui.web.urls_linkage")),
    path("", include("gonghui.web.urls_rules")),
]
