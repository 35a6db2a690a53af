from django.db import models
from django.utils.translation import gettext_lazy as _


class RegionLevel(models.TextChoices):
    PROVINCE = "province", _("Province")
    CITY = "city", _("City")
    COUNTY = "county", _("County")


class OrganisationKind(models.TextChoices):
    NATIONAL = "national", _("National federation")
    PROVINCE = "province", _("Provincial federation")
    CITY = "city", _("City federation")
    COUNTY = "county", _("County federation")
    STREET = "street", _("Street or township union")
    INDUSTRY = "industry", _("Industry federation")
    GRASSROOTS = "grassroots", _("Grassroots union")
