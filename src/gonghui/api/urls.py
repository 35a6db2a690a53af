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

# --- assistance, household side (gonghui.api.aid): lines, campaigns, visits -------------
from . import aid as aid_api  # noqa: E402

urlpatterns += [path("", include(aid_api.urlpatterns))]

# --- assistance, the fund side (gonghui.api.funds) -------------------------------------------
from . import funds as fund_views  # noqa: E402

fund_router = SimpleRouter()
fund_router.register("funds", fund_views.FundViewSet, basename="api-fund")
fund_router.register("budgets", fund_views.BudgetViewSet, basename="api-budget")
fund_router.register("batches", fund_views.BatchViewSet, basename="api-batch")
urlpatterns += [path("", include(fund_router.urls))]
# --- end of the fund side ---------------------------------------------------------------------
