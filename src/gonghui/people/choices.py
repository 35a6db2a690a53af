from django.db import models
from django.utils.translation import gettext_lazy as _


class Sex(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


class EmploymentForm(models.TextChoices):
    STANDARD = "standard", _("Standard employment")
    FLEXIBLE = "flexible", _("Flexible employment")
    COURIER = "courier", _("Courier")
    FOOD_DELIVERY = "food_delivery", _("Food delivery rider")
    RIDE_HAILING = "ride_hailing", _("Ride-hailing driver")
    TRUCK_DRIVER = "truck_driver", _("Truck driver")
    HOME_SERVICE = "home_service", _("Home service worker")
    MIGRANT = "migrant", _("Migrant worker")
    UNEMPLOYED = "unemployed", _("Unemployed")


class MembershipStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    ENDED = "ended", _("Ended")


class Relation(models.TextChoices):
    SELF = "self", _("Self")
    SPOUSE = "spouse", _("Spouse")
    CHILD = "child", _("Child")
    PARENT = "parent", _("Parent")
    SIBLING = "sibling", _("Sibling")
    GRANDCHILD = "grandchild", _("Grandchild")
    GRANDPARENT = "grandparent", _("Grandparent")
    OTHER = "other", _("Other")


class Health(models.TextChoices):
    HEALTHY = "healthy", _("Healthy")
    CHRONIC = "chronic", _("Chronic illness")
    SERIOUS = "serious", _("Serious illness")
    DISABLED = "disabled", _("Disabled")


class Disability(models.TextChoices):
    NONE = "none", _("None")
    GRADE_1 = "1", _("Grade 1")
    GRADE_2 = "2", _("Grade 2")
    GRADE_3 = "3", _("Grade 3")
    GRADE_4 = "4", _("Grade 4")


class Schooling(models.TextChoices):
    NONE = "none", _("Not in school")
    PRESCHOOL = "preschool", _("Preschool")
    PRIMARY = "primary", _("Primary school")
    JUNIOR = "junior", _("Junior secondary")
    SENIOR = "senior", _("Senior secondary")
    VOCATIONAL = "vocational", _("Vocational school")
    UNIVERSITY = "university", _("University")
    GRADUATE = "graduate", _("Postgraduate")


# Compulsory education (primary and junior secondary) costs are not a rigid expense.
COMPULSORY_SCHOOLING = frozenset({Schooling.PRIMARY, Schooling.JUNIOR})


class Employment(models.TextChoices):
    EMPLOYED = "employed", _("Employed")
    FLEXIBLE = "flexible", _("Flexible work")
    UNEMPLOYED = "unemployed", _("Unemployed, able to work")
    UNABLE = "unable", _("Unable to work")
    RETIRED = "retired", _("Retired")
    STUDENT = "student", _("Student")
    CHILD = "child", _("Child or infant")
