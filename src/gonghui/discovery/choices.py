from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class SourceKind(models.TextChoices):
    """What a source delivers; external agency lists (issue 4, point 2) add their kinds here."""

    MEMBER_ROSTER = "member_roster", _("Member roster")
    MINIMUM_LIVING = "minimum_living", _("Minimum-living-allowance recipients")
    MEDICAL = "medical", _("Large medical expenses")
    UNEMPLOYMENT = "unemployment", _("Unemployment registrations")
    DISABILITY = "disability", _("Disability registry")
    DISASTER = "disaster", _("Disaster victims")
    PROPERTY = "property", _("Property registrations")
    VEHICLE = "vehicle", _("Vehicle registrations")
    BUSINESS = "business", _("Business registrations")


class ImportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    ROLLED_BACK = "rolled_back", _("Rolled back")


class ImportPhase(models.TextChoices):
    """Where a running import is; the progress fields count the units of this phase."""

    WAITING = "waiting", _("Waiting")
    READING = "reading", _("Reading the file")
    CHECKING = "checking", _("Checking the rows")
    LOADING = "loading", _("Loading into the registry")
    FINISHED = "finished", _("Finished")


class RosterField(models.TextChoices):
    """The fields a roster column can be mapped to."""

    ID_NUMBER = "id_number", _("ID number")
    NAME = "name", pgettext_lazy("person", "name")
    PHONE = "phone", _("phone")
    REGION = "region", _("region code")
    EMPLOYER = "employer", _("employer")
    ORGANISATION = "organisation", _("union")
    MEMBER_SINCE = "member_since", _("member since")
    EMPLOYMENT_FORM = "employment_form", _("employment form")


class RuleStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ON = "on", pgettext_lazy("rule status", "On")
    OFF = "off", _("Off")


class RunKind(models.TextChoices):
    DRY_RUN = "dry_run", _("Dry run")
    RUN = "run", _("Run")


class JobStatus(models.TextChoices):
    """Where a background screening job is (the values are those of an import's status,
    so :func:`gonghui.discovery.jobs.state` reads both)."""

    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class CandidateStatus(models.TextChoices):
    NEW = "new", _("New")
    CONTACTED = "contacted", _("Contacted")
    FILED = "filed", _("Filed")
    NOT_ELIGIBLE = "not_eligible", _("Not eligible")
    UNREACHABLE = "unreachable", _("Unreachable")
