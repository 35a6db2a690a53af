from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DiscoveryConfig(AppConfig):
    name = "gonghui.discovery"
    verbose_name = _("Discovery")
    default_auto_field = "django.db.models.BigAutoField"
