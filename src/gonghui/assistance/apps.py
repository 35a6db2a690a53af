from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AssistanceConfig(AppConfig):
    name = "gonghui.assistance"
    verbose_name = _("Assistance and funds")
    default_auto_field = "django.db.models.BigAutoField"
