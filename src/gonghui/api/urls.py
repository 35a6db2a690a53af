from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import SimpleRouter

from . import docs, views

router = SimpleRouter()
router.register("files", views.FileViewSet, basename="api-file")
router.register("queue", views.QueueViewSet, basename="api-queue")
router.register("workers", views.WorkerViewSet, basename="api-worker")
router.register("households", views.HouseholdViewSet, basename="api-household")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", docs.docs, name="api-docs"),
    path("", include(router.urls)),
]
