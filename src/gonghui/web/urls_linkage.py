"""The linkage review queue (issue 4, point 4)."""

from django.urls import URLPattern, path

from .views import linkage

urlpatterns: list[URLPattern] = [
    path("linkage/reviews/", linkage.review_list, name="link-review-list"),
    path("linkage/reviews/<int:pk>/", linkage.review_detail, name="link-review"),
    path("linkage/reviews/<int:pk>/merge/", linkage.review_merge, name="link-review-merge"),
]
