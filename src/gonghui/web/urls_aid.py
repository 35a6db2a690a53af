"""The household side of assistance: plans, approvals and holiday-visit campaigns."""

from django.urls import URLPattern, path

from .views import aid, aid_approvals, aid_campaigns

urlpatterns: list[URLPattern] = [
    path("files/<int:pk>/aid/", aid.aid_plan, name="aid-plan"),
    path("files/<int:pk>/aid/propose/", aid.aid_propose, name="aid-propose"),
    path("files/<int:pk>/aid/add/", aid.aid_line_add, name="aid-line-add"),
    path("aid/lines/<int:pk>/edit/", aid.aid_line_edit, name="aid-line-edit"),
    path("aid/lines/<int:pk>/cancel/", aid.aid_line_cancel, name="aid-line-cancel"),
    path("aid/lines/<int:pk>/approve/", aid.aid_line_approve, name="aid-line-approve"),
    path("aid/approvals/", aid_approvals.aid_approvals, name="aid-approvals"),
]

urlpatterns += [
    path("campaigns/", aid_campaigns.campaign_list, name="campaign-list"),
    path("campaigns/new/", aid_campaigns.campaign_new, name="campaign-new"),
    path("campaigns/<int:pk>/", aid_campaigns.campaign_detail, name="campaign-detail"),
    path("campaigns/<int:pk>/close/", aid_campaigns.campaign_close, name="campaign-close"),
    path("campaigns/<int:pk>/targets/", aid_campaigns.campaign_targets, name="campaign-targets"),
    path("targets/<int:pk>/visit/", aid_campaigns.target_visit, name="target-visit"),
]
