from django.db import models
from django.utils.translation import gettext_lazy as _


class FileStatus(models.TextChoices):
    DRAFT = "draft", _("Application")
    INVESTIGATED = "investigated", _("Investigated")
    NOTICE = "notice", _("Under public notice")
    REVIEWED = "reviewed", _("Reviewed")
    FILED = "filed", _("Filed")
    REJECTED = "rejected", _("Rejected")
    CLOSED = "closed", _("Closed")


class HardshipCategory(models.TextChoices):
    DEEP = "deep", _("Deep hardship")
    RELATIVE = "relative", _("Relative hardship")
    ACCIDENT = "accident", _("Hardship by accident")
    NOT_ELIGIBLE = "none", _("Not eligible")


class HardshipCause(models.IntegerChoices):
    UNABLE_TO_WORK = 1, _("Unable to work")
    NOT_EMPLOYED = 2, _("Able to work but not employed")
    LAID_OFF = 3, _("Laid off")
    NO_INSURANCE = 4, _("No social insurance")
    BENEFITS_UNPAID = 5, _("Insurance benefits not paid")
    MAJOR_ILLNESS = 6, _("Major illness")
    DISASTER = 7, _("Natural disaster")
    ACCIDENT = 8, _("Accident")
    CHILDREN_IN_SCHOOL = 9, _("Children in school")
    OTHER = 10, _("Other")


# A sudden event that may make a household an ACCIDENT case.
SUDDEN_EVENT_CAUSES = frozenset(
    {HardshipCause.MAJOR_ILLNESS, HardshipCause.DISASTER, HardshipCause.ACCIDENT}
)
MAX_SECONDARY_CAUSES = 3


class IncomeKind(models.TextChoices):
    WAGES = "wages", _("Wages")
    BUSINESS = "business", _("Business income")
    PROPERTY = "property", _("Property income")
    TRANSFERS = "transfers", _("Transfer income (pensions, benefits)")
    UNION_AID = "union_aid", _("Union living, education or medical aid")
    HOLIDAY_GIFTS = "holiday_gifts", _("Small holiday gifts")
    BASIC_PENSION = "basic_pension", _("Basic resident pension")
    OTHER = "other", _("Other income")


class ExpenseKind(models.TextChoices):
    ILLNESS = "illness", _("Illness (self-paid medical costs)")
    DISABILITY = "disability", _("Disability")
    SCHOOLING = "schooling", _("Schooling (beyond compulsory education)")
    COMPULSORY_SCHOOLING = "compulsory", _("Compulsory education")
    HOUSING = "housing", _("Housing")
    ACCIDENT = "accident", _("Disaster or accident losses after compensation")
    OTHER = "other", _("Other rigid expenses")


class Exclusion(models.TextChoices):
    MULTIPLE_HOMES = "multiple_homes", _("Two or more homes above the local area per person")
    CAR = "car", _("A car other than a disability aid")
    CONTROLLING_SHAREHOLDER = "shareholder", _("Controlling shareholder of a company")
    PRIVATE_SCHOOL = "private_school", _("A child at a high-fee private school or abroad")
    HIDING_INCOME = "hiding_income", _("Hiding income or refusing the investigation")
    REFUSED_WORK = "refused_work", _("Refusing suitable work without reason")
    RUNS_BUSINESS = "runs_business", _("Running a shop or employing others")


class ExitKind(models.TextChoices):
    RECOVERED = "recovered", _("Out of hardship (脱困)")
    STABILISED = "stabilised", _("Hardship relieved (解困)")
    RETIREMENT = "retirement", _("Retirement")
    TRANSFER = "transfer", _("Transferred")
    DEATH = "death", _("Death")


class EventKind(models.TextChoices):
    CREATED = "created", _("Application opened")
    EDITED = "edited", _("Details changed")
    ASSESSED = "assessed", _("Category computed")
    INVESTIGATED = "investigated", _("Home investigation recorded")
    NOTICE = "notice", _("Public notice started")
    REVIEWED = "reviewed", _("Reviewed")
    FILED = "filed", _("Filed")
    REJECTED = "rejected", _("Rejected")
    ANNUAL_REVIEW = "annual_review", _("Periodic review")
    INCOME_READING = "income_reading", _("Monthly income recorded")
    EXITED = "exited", _("Exited")
    REOPENED = "reopened", _("Reopened (relapse)")
    FOLLOW_UP = "follow_up", _("Follow-up")


class FollowUpStatus(models.TextChoices):
    DUE = "due", _("Due")
    DONE = "done", _("Done")
    MISSED = "missed", _("Could not reach")
