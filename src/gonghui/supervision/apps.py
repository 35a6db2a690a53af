from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SupervisionConfig(AppConfig):
    name = "gonghui.supervision"
    verbose_name = _("Supervision and competition")
    default_auto_field = "django.db.models.BigAutoField"
