from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class FundSource(models.TextChoices):
    CENTRAL = "central", _("Central budget")
    LOCAL = "local", _("Local matching funds")
    UNION = "union", _("Union funds")
    HOLIDAY = "holiday", _("Holiday-visit (送温暖) funds")
    SPECIAL = "special", _("Special fund")
    DONATION = "donation", _("Donations")
    INTEREST = "interest", _("Interest")


class AidKind(models.TextChoices):
    """What money may be spent on. Running costs are not a kind: no fund may pay them
    (专款专用), so there is nothing to allow."""

    LIVING = "living", _("Living aid")
    MEDICAL = "medical", _("Medical aid")
    EDUCATION = "education", _("Education aid")
    MAJOR_ILLNESS = "major_illness", _("Major-illness aid")
    ACCIDENT = "accident", _("Accident aid")
    TRAINING = "training", _("Training")
    JOB_REFERRAL = "job_referral", _("Job referral")
    LEGAL_AID = "legal_aid", _("Legal aid")
    HOLIDAY_VISIT = "holiday_visit", _("Holiday visit")
    NECESSITIES = "necessities", _("Daily necessities")


# Purposes people ask for that no fund may ever pay (checked when a fund is defined).
FORBIDDEN_PURPOSES = frozenset({"running_costs", "administration", "salaries"})

# Kinds that are one need a year for a household (or a person): paying one twice from two
# funds is double dipping.
ONCE_A_YEAR_KINDS = frozenset(
    {AidKind.LIVING, AidKind.EDUCATION, AidKind.ACCIDENT, AidKind.MAJOR_ILLNESS}
)


class LedgerKind(models.TextChoices):
    GRANT = "grant", _("Money received")
    ALLOCATE_OUT = "allocate_out", _("Allocated to a lower union")
    ALLOCATE_IN = "allocate_in", _("Allocated from the upper union")
    RETURN_OUT = "return_out", _("Unspent money returned upwards")
    RETURN_IN = "return_in", _("Unspent money returned from a lower union")
    COMMIT = "commit", _("Committed at approval")
    RELEASE = "release", _("Commitment released")
    PAY = "pay", _("Paid")
    REVERSE = "reverse", _("Payment reversed")


class LineStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    APPROVED = "approved", _("Approved")
    BATCHED = "batched", _("In a payment batch")
    PAID = "paid", _("Paid")
    FAILED = "failed", _("Payment failed")
    CANCELLED = "cancelled", _("Cancelled")


# Lines whose money counts against the caps (planned lines do not yet).
COUNTED_STATUSES = frozenset(
    {LineStatus.APPROVED, LineStatus.BATCHED, LineStatus.PAID, LineStatus.FAILED}
)


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("Sent to the bank")
    PAID = "paid", _("Paid")
    FAILED = "failed", _("Failed")


class BatchStatus(models.TextChoices):
    OPEN = "open", _("Being prepared")
    EXPORTED = "exported", _("Bank file exported")
    SETTLED = "settled", _("Bank result imported")


class TargetKind(models.TextChoices):
    FILED_HOUSEHOLD = "filed", _("Filed household in hardship")
    MODEL_WORKER = "model_worker", _("Model worker")
    GIG_WORKER = "gig_worker", _("Gig worker (courier, rider, driver)")
    OTHER = "other", _("Other")


class CampaignStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", pgettext_lazy("campaign", "Closed")
