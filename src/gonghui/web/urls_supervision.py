"""Supervision: indicators with the records behind them, competitions, the dashboard."""

from django.urls import URLPattern, path

from .views import supervision
from .views import supervision_competitions as competitions

urlpatterns: list[URLPattern] = [
    path("dashboard/", supervision.dashboard, name="dashboard"),
    path("indicators/", supervision.indicator_page, name="indicators"),
    path("indicators/records/", supervision.indicator_records, name="indicator-records"),
    path("indicators/refresh/", supervision.indicator_refresh, name="indicator-refresh"),
    path("competitions/", competitions.competition_list, name="competition-list"),
    path("competitions/new/", competitions.competition_new, name="competition-new"),
    path("competitions/<int:pk>/", competitions.competition_detail, name="competition-detail"),
    path("competitions/<int:pk>/judge/", competitions.competition_judge, name="competition-judge"),
    path(
        "competitions/<int:pk>/freeze/",
        competitions.competition_freeze,
        name="competition-freeze",
    ),
    path("competitions/<int:pk>/xlsx/", competitions.competition_xlsx, name="competition-xlsx"),
    path("competitions/<int:pk>/pdf/", competitions.competition_pdf, name="competition-pdf"),
]
