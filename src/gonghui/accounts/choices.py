from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    WORKER = "worker", _("Worker")
    CASE_WORKER = "case_worker", _("Case worker")
    REVIEWER = "reviewer", _("Reviewer")
    FUND_OFFICER = "fund_officer", _("Fund officer")
    LEADER = "leader", _("Leader")
    AUDITOR = "auditor", _("Auditor")
    ADMIN = "admin", _("Administrator")


class Capability(models.TextChoices):
    """What a role may do; checked by the domain services, not by the views alone."""

    OPEN_FILE = "open_file", _("open and edit hardship files")
    INVESTIGATE = "investigate", _("record home investigations")
    APPROVE = "approve", _("review and approve hardship files")
    MANAGE_FILED = "manage_filed", _("review, exit and reopen filed households")
    SEE_PERSONAL = "see_personal", _("see unmasked ID numbers and phones")
    READ_AUDIT = "read_audit", _("read the audit trail")
    EDIT_POLICY = "edit_policy", _("edit policies and living standards")
    EDIT_PEOPLE = "edit_people", _("edit workers and households")
    PLAN_AID = "plan_aid", _("plan assistance and record holiday visits")
    APPROVE_AID = "approve_aid", _("approve assistance")
    MANAGE_FUNDS = "manage_funds", _("define funds, allocate budgets and pay batches")
    RUN_CAMPAIGNS = "run_campaigns", _("open holiday-visit campaigns")
    SEE_BANK = "see_bank", _("see unmasked bank card numbers")
    IMPORT_ROSTERS = "import_rosters", _("import member rosters and external lists")
    RUN_COMPETITIONS = "run_competitions", _("define and freeze competitions")
    SUPERVISE = "supervise", _("assign and close supervision tasks, read indicators of the subtree")


ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    Role.WORKER: frozenset(),
    Role.CASE_WORKER: frozenset(
        {
            Capability.OPEN_FILE,
            Capability.INVESTIGATE,
            Capability.MANAGE_FILED,
            Capability.SEE_PERSONAL,
            Capability.EDIT_PEOPLE,
            Capability.PLAN_AID,
        }
    ),
    Role.REVIEWER: frozenset(
        {
            Capability.APPROVE,
            Capability.MANAGE_FILED,
            Capability.SEE_PERSONAL,
            Capability.APPROVE_AID,
            # The upper union's reviewers do the spot checks of files (at least 30 % a
            # year): they assign and close supervision tasks below them.
            Capability.SUPERVISE,
        }
    ),
    Role.FUND_OFFICER: frozenset(
        {Capability.MANAGE_FUNDS, Capability.SEE_PERSONAL, Capability.SEE_BANK}
    ),
    Role.LEADER: frozenset(
        {Capability.RUN_CAMPAIGNS, Capability.RUN_COMPETITIONS, Capability.SUPERVISE}
    ),
    # Read-only: SUPERVISE would let the auditor assign and close tasks. Auditors read the
    # audit trail, and published rankings like every staff user above a competitor.
    Role.AUDITOR: frozenset({Capability.READ_AUDIT}),
    Role.ADMIN: frozenset(set(Capability.values)),
}
