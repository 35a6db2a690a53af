"""Merging a worker registered twice into the record that stays (issue 4, point 4).

    plan_merge(user, survivor, duplicate)                   # what would move; nothing changes
    merge_workers(user, survivor, duplicate, review=None)   # the merge itself
    default_survivor(a, b)                                  # which record should stay

The dedupe run (``discovery.linking.run_dedupe``) queues pairs of workers who may be one
person; a reviewer decides "same person"; then someone who edits people merges them, from
the review page or ``gonghui workers merge``. Both call :func:`merge_workers`.

**What moves.** Every row that points at the duplicate points at the survivor afterwards.
The relations are found by introspection (``Worker``'s reverse relations, hidden ones
included), so a foreign key added later is not forgotten: each one must be named in
:data:`HANDLERS` with the rule for its conflicts (``tests/test_merge_workers.py`` fails
otherwise), and at run time an unnamed relation is moved plainly only when no uniqueness
rule includes it. Each relation moves with one UPDATE, preceded by one INSERT … SELECT
that writes an audit entry per moved row (before and after), in one transaction, with the
two worker rows locked.

**Conflicts.** Where a uniqueness rule would break, the survivor's row is kept and the
duplicate's is settled, each outcome recorded (:class:`Settled`):

- an active membership when the survivor has one: dropped if it is the same union's (one
  membership registered twice), ended otherwise;
- a household member row when the survivor is a member too: in the same household the two
  rows are folded (the income, expense and assistance lines of the duplicate's row move to
  the survivor's row, the row goes, the open file is re-assessed); in another household the
  row stays there without its worker link, for a person to settle;
- a bank card in use when the survivor has one: no longer in use;
- a holiday-visit target in a campaign that targets the survivor too: folded (its visit moves
  to the survivor's target); if both were visited the merge is refused, since a person
  visited twice in one campaign is a matter for a person, not for a merge;
- a candidate of a rule that also flagged the survivor: folded (evidence joined, the further
  outreach status kept);
- a linkage review that the survivor already has: dropped. The review of the pair itself
  stays as it is: it is the record of the decision.

Fields the survivor lacks (phone, region, employer) are filled from the duplicate; where
both have a different value the survivor's stays and the pair is listed in the audit entry.

**The duplicate** is not deleted: it keeps its ID number (a roster re-imported with it does
not register the person again) and is marked ``merged_into`` the survivor, which hides it
from every list, search and choice (``WorkerQuerySet.for_user``). It can neither be merged
again nor take another record in. Records merged into it earlier now point at the survivor.
A second merge of the same pair (a double click) waits for the first one's lock and then
changes nothing.

**Who.** Someone with ``EDIT_PEOPLE`` whose subtree holds both workers. Four eyes: when the
duplicate carries what money follows (hardship files, assistance lines, bank cards), a
wrong merge would pay one person's aid to another's card, so the pair must have been
decided "same person" in the review queue by somebody else than whoever merges it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured, ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Count, F, Q, Value
from django.db.models.fields.reverse_related import ForeignObjectRel
from django.db.models.functions import JSONArray, JSONObject
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gonghui.accounts.choices import Capability
from gonghui.audit.bulk import record_rows
from gonghui.audit.context import current_source
from gonghui.audit.models import AuditAction, Audited, AuditEntry, record, snapshot
from gonghui.errors import Conflict, DomainError, NotAllowed

from .choices import MembershipStatus
from .idnumber import validate_id_number
from .models import Household, Worker

if TYPE_CHECKING:
    from gonghui.discovery.models import LinkReview


class Settled(models.TextChoices):
    """What became of a duplicate's row that met one of the survivor's."""

    DROPPED = "dropped", gettext_lazy("removed: the survivor has the same")
    FOLDED = "folded", gettext_lazy("folded into the survivor's")
    ENDED = "ended", gettext_lazy("ended: the survivor has an active one")
    DEACTIVATED = "deactivated", gettext_lazy("no longer in use: the survivor has one in use")
    DETACHED = "detached", gettext_lazy("left in its household without the worker link")
    BLOCKED = "blocked", gettext_lazy("both were visited: settle it before merging")


@dataclass
class Outcome:
    relation: str  # the relation's key, e.g. "people.membership.worker"
    row: int  # the duplicate's row
    action: str  # a Settled value
    kept: int | None = None  # the survivor's row it met

    @property
    def label(self) -> str:
        return str(Settled(self.action).label)


@dataclass
class Pair:
    """The two locked rows of a merge and who merges them."""

    user: Any
    survivor: Worker
    duplicate: Worker
    now: Any = field(default_factory=timezone.now)


@dataclass
class Plan:
    """What a merge would do: the duplicate's rows per relation, the conflicts and how they
    are settled, and the fields filled in or differing."""

    survivor: Worker
    duplicate: Worker
    counts: dict[str, int]
    outcomes: list[Outcome]
    filled: dict[str, list[Any]]
    differing: dict[str, list[Any]]
    money: bool  # the duplicate carries files, assistance or bank cards (four eyes)

    @property
    def blocked(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.action == Settled.BLOCKED]


@dataclass
class MergeResult:
    survivor: Worker
    duplicate: Worker
    already: bool = False  # the pair was merged before: nothing changed
    moved: dict[str, int] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    filled: dict[str, list[Any]] = field(default_factory=dict)
    differing: dict[str, list[Any]] = field(default_factory=dict)


# --- relations ---------------------------------------------------------------------------


def key_of(rel: ForeignObjectRel) -> str:
    return f"{rel.related_model._meta.label_lower}.{rel.field.name}"  # type: ignore[union-attr]


def worker_relations() -> list[ForeignObjectRel]:
    """Every relation that points at a Worker (hidden ones, ``related_name="+"``, too)."""
    return [
        f for f in Worker._meta.get_fields(include_hidden=True) if isinstance(f, ForeignObjectRel)
    ]


def unique_with(model: type[models.Model], name: str) -> list[tuple[str, ...]]:
    """The uniqueness rules of ``model`` that include the field ``name``."""
    found: list[tuple[str, ...]] = []
    if model._meta.get_field(name).unique:  # type: ignore[union-attr]
        found.append((name,))
    found += [tuple(t) for t in model._meta.unique_together if name in t]
    for constraint in model._meta.constraints:
        fields = tuple(getattr(constraint, "fields", ()))
        if isinstance(constraint, models.UniqueConstraint) and name in fields:
            found.append(fields)
    return found


def _org_path(model: type[models.Model], fallback: str) -> str:
    """The lookup of the organisation path an audit entry of ``model`` carries: its scope,
    its hardship file's union, or ``fallback`` (the path through the row it hangs on)."""
    scope = getattr(model, "scope_field", None)
    if scope is not None:
        return f"{scope}__path" if scope else "path"
    return "file__organisation__path" if _file_lookup(model) == "file_id" else fallback


def _file_lookup(model: type[models.Model]) -> str | None:
    """The hardship file a row belongs to, so moved rows show on the case timeline."""
    if model._meta.label_lower == "hardship.hardshipfile":
        return "id"
    try:
        found = model._meta.get_field("file")
    except FieldDoesNotExist:
        return None
    related = getattr(found, "related_model", None)
    if related is not None and related._meta.label_lower == "hardship.hardshipfile":
        return "file_id"
    return None


def update_rows(pair: Pair, rows: models.QuerySet[Any], path: str, **values: Any) -> int:
    """UPDATE ``rows`` SET ``values``, after one audit entry per row (before and after)
    written by one INSERT … SELECT: two statements, whatever the number of rows. ``path``
    is the lookup of the rows' organisation path (:func:`_org_path`)."""
    model = rows.model
    changes = JSONObject(**{name: JSONArray(F(name), Value(v)) for name, v in values.items()})
    record_rows(
        rows,
        model=model,
        action=AuditAction.UPDATE,
        at=pair.now,
        actor=pair.user.pk,
        source=current_source(),
        object_id=model._meta.pk.attname,  # type: ignore[union-attr]
        org_path=path,
        file_id=_file_lookup(model),
        changes=changes,
    )
    return int(rows.update(**values))


def _drop(instance: models.Model) -> None:
    """Delete a settled row; an audited model records itself, any other is recorded here."""
    if not isinstance(instance, Audited):
        before = snapshot(instance)
        record(instance, AuditAction.DELETE, {k: [v, None] for k, v in before.items()})
    instance.delete()


def _children(model: type[models.Model]) -> Iterator[ForeignObjectRel]:
    for f in model._meta.get_fields(include_hidden=True):
        if isinstance(f, ForeignObjectRel):
            yield f


def _child_clash(model: type[models.Model], old: int, new: int) -> bool:
    """Both rows have a record that may exist once per row (a visit of a target)."""
    for rel in _children(model):
        name = rel.field.name
        if rel.field.unique and all(
            rel.related_model._default_manager.filter(**{name: pk}).exists()  # type: ignore[union-attr]
            for pk in (old, new)
        ):
            return True
    return False


def _repoint_children(pair: Pair, parent: Relation, old: int, new: int) -> None:
    """What hangs on the duplicate's row now hangs on the survivor's (audited)."""
    for rel in _children(parent.model):
        child: Any = rel.related_model
        name = rel.field.name
        rows = child._base_manager.filter(**{name: old})
        path = _org_path(child, f"{name}__{parent.path}")
        update_rows(pair, rows, path, **{rel.field.attname: new})


class Move:
    """Point the duplicate's rows at the survivor; nothing can clash."""

    def __init__(self, money: bool = False) -> None:
        self.money = money  # money follows these rows (four eyes)

    def keep(self, pair: Pair) -> Q:
        """Rows left as they are (none but the merged pair's own review)."""
        return Q()

    def conflicts(self, pair: Pair, rel: Relation) -> list[Outcome]:
        return []

    def settle(self, pair: Pair, rel: Relation, outcome: Outcome) -> None:
        raise NotImplementedError

    def follow(self, pair: Pair, rel: Relation) -> None:
        """Other fields that follow the worker, changed before the move."""


class Memberships(Move):
    """One active membership per worker."""

    def conflicts(self, pair: Pair, rel: Relation) -> list[Outcome]:
        active = MembershipStatus.ACTIVE
        kept = rel.theirs(pair).filter(status=active).first()
        if kept is None:
            return []
        mine = rel.rows(pair).filter(status=active).values_list("pk", "organisation")
        return [
            Outcome(
                rel.key,
                pk,
                Settled.DROPPED if organisation == kept.organisation_id else Settled.ENDED,
                kept.pk,
            )
            for pk, organisation in mine
        ]

    def settle(self, pair: Pair, rel: Relation, outcome: Outcome) -> None:
        membership = rel.rows(pair).get(pk=outcome.row)
        if outcome.action == Settled.DROPPED:
            _drop(membership)
        else:
            membership.status = MembershipStatus.ENDED
            membership.save()


class HouseholdMembers(Move):
    """A worker is a member of one household at most."""

    def conflicts(self, pair: Pair, rel: Relation) -> list[Outcome]:
        mine, kept = rel.rows(pair).first(), rel.theirs(pair).first()
        if mine is None or kept is None:
            return []
        same = mine.household_id == kept.household_id
        return [Outcome(rel.key, mine.pk, Settled.FOLDED if same else Settled.DETACHED, kept.pk)]

    def settle(self, pair: Pair, rel: Relation, outcome: Outcome) -> None:
        member = rel.rows(pair).get(pk=outcome.row)
        if outcome.action == Settled.DETACHED:
            member.worker = None
            member.save()
            return
        assert outcome.kept is not None
        _repoint_children(pair, rel, member.pk, outcome.kept)
        household = member.household
        _drop(member)
        _reassess(pair.user, household)

    def follow(self, pair: Pair, rel: Relation) -> None:
        # The row copied the duplicate's number when it was added: it is the survivor's now.
        copied = rel.rows(pair).filter(id_number=pair.duplicate.id_number)
        update_rows(pair, copied, rel.path, id_number=pair.survivor.id_number)


def _reassess(user: Any, household: Household) -> None:
    """One person counted twice left the household: its open file is assessed again."""
    from gonghui.hardship.services import household_changed  # hardship builds on people

    # A file of another union's is re-assessed at its next change.
    with contextlib.suppress(NotAllowed):
        household_changed(user, household)


class BankAccounts(Move):
    """One card in use per worker."""

    def conflicts(self, pair: Pair, rel: Relation) -> list[Outcome]:
        kept = rel.theirs(pair).filter(active=True).first()
        if kept is None:
            return []
        mine = rel.rows(pair).filter(active=True).values_list("pk", flat=True)
        return [Outcome(rel.key, pk, Settled.DEACTIVATED, kept.pk) for pk in mine]

    def settle(self, pair: Pair, rel: Relation, outcome: Outcome) -> None:
        account = rel.rows(pair).get(pk=outcome.row)
        account.active = False
        account.save()


class Folding(Move):
    """Rows unique per worker and ``by`` (a campaign, a rule): the duplicate's row that
    meets a survivor's is folded into it, and what hung on it moves over."""

    by = ""

    def conflicts(self, pair: Pair, rel: Relation) -> list[Outcome]:
        theirs = dict(rel.theirs(pair).values_list(self.by, "pk"))
        mine = rel.rows(pair).filter(**{f"{self.by}__in": list(theirs)})
        outcomes = []
        for pk, by in mine.values_list("pk", self.by):
            kept = theirs[by]
            clash = _child_clash(rel.model, pk, kept)
            outcomes.append(
                Outcome(rel.key, pk, Settled.BLOCKED if clash else Settled.FOLDED, kept)
            )
        return outcomes

    def settle(self, pair: Pair, rel: Relation, outcome: Outcome) -> None:
        assert outcome.kept is not None
        mine = rel.rows(pair).get(pk=outcome.row)
        self.fold(mine, rel.model._base_manager.get(pk=outcome.kept))
        _repoint_children(pair, rel, mine.pk, outcome.kept)
        _drop(mine)

    def fold(self, mine: Any, kept: Any) -> None:
        """Take what the survivor's row lacks."""


class CampaignTargets(Folding):
    by = "campaign"


class Candidates(Folding):
    by = "rule"

    def fold(self, mine: Any, kept: Any) -> None:
        from gonghui.discovery.choices import CandidateStatus

        evidence = list(kept.evidence)
        evidence += [item for item in mine.evidence if item not in evidence]
        kept.evidence = evidence
        if kept.status == CandidateStatus.NEW and mine.status != CandidateStatus.NEW:
            kept.status, kept.reason = mine.status, mine.reason  # an outcome already recorded
        if kept.dropped_at is not None and mine.dropped_at is None:
            kept.dropped_at = None  # still found, through the duplicate
        kept.save()

    def follow(self, pair: Pair, rel: Relation) -> None:
        # Open candidates belong in the queue of the union responsible for the survivor.
        union = pair.survivor.organisation_id
        live = rel.rows(pair).filter(dropped_at__isnull=True).exclude(organisation=union)
        update_rows(pair, live, rel.path, organisation_id=union)


class LinkReviews(Move):
    """Reviews naming the duplicate (as ``worker`` or ``other_worker``). The review of the
    merged pair itself stays: it is the record of the decision."""

    def __init__(self, side: str) -> None:
        super().__init__()
        self.side = side

    def keep(self, pair: Pair) -> Q:
        s, d = pair.survivor.pk, pair.duplicate.pk
        return Q(worker=s, other_worker=d) | Q(worker=d, other_worker=s)

    def conflicts(self, pair: Pair, rel: Relation) -> list[Outcome]:
        from gonghui.discovery.models import LinkKind

        reviews = rel.model._base_manager.exclude(self.keep(pair))
        outcomes = []
        for review in rel.rows(pair):
            if review.kind == LinkKind.LINK:
                met = Q(list_import=review.list_import_id, row_no=review.row_no)
                kept = reviews.filter(met, kind=LinkKind.LINK, worker=pair.survivor).first()
            else:
                kept = reviews.filter(self._met(pair, review), kind=LinkKind.DEDUPE).first()
            if kept is not None:
                outcomes.append(Outcome(rel.key, review.pk, Settled.DROPPED, kept.pk))
        return outcomes

    def _met(self, pair: Pair, review: Any) -> Q:
        """The reviews of the same pair once the duplicate is the survivor, either way round."""
        s, d = pair.survivor.pk, pair.duplicate.pk
        other = review.other_worker_id if self.side == "worker" else review.worker_id
        met = Q(worker=s, other_worker=other) | Q(worker=other, other_worker=s)
        if self.side == "other_worker":  # (d, other) becomes (s, other) on the worker side
            met |= Q(worker=d, other_worker=other)
        return met & ~Q(pk=review.pk)

    def settle(self, pair: Pair, rel: Relation, outcome: Outcome) -> None:
        _drop(rel.rows(pair).get(pk=outcome.row))

    def follow(self, pair: Pair, rel: Relation) -> None:
        if self.side == "worker":  # a pending pair waits in the queue of the worker's union
            union = pair.survivor.organisation_id
            waiting = rel.rows(pair).filter(decision="pending").exclude(organisation=union)
            update_rows(pair, waiting, rel.path, organisation_id=union)


# Every relation to Worker, by key, with its rule. A new foreign key to Worker must be
# named here (tests/test_merge_workers.py checks), with Move only if nothing can clash.
HANDLERS: dict[str, Move] = {
    "people.worker.merged_into": Move(),
    "people.membership.worker": Memberships(),
    "people.householdmember.worker": HouseholdMembers(),
    "hardship.hardshipfile.applicant": Move(money=True),
    "assistance.assistanceline.worker": Move(money=True),
    "assistance.bankaccount.worker": BankAccounts(money=True),
    "assistance.modelworker.worker": Move(),
    "assistance.campaigntarget.worker": CampaignTargets(),
    "discovery.candidate.worker": Candidates(),
    "discovery.linkreview.worker": LinkReviews("worker"),
    "discovery.linkreview.other_worker": LinkReviews("other_worker"),
    "discovery.listrowlink.worker": Move(),
}


@dataclass
class Relation:
    """One foreign key to Worker and the rule it merges by."""

    key: str
    model: Any  # the model class
    name: str  # the field that points at Worker
    attname: str
    handler: Move

    @property
    def path(self) -> str:
        """The lookup of the organisation path of the model's audit entries."""
        return _org_path(self.model, f"{self.name}__organisation__path")

    def rows(self, pair: Pair) -> models.QuerySet[Any]:
        """The duplicate's rows that move."""
        rows = self.model._base_manager.filter(**{self.name: pair.duplicate.pk})
        return rows.exclude(self.handler.keep(pair))

    def theirs(self, pair: Pair) -> models.QuerySet[Any]:
        """The survivor's rows."""
        return self.model._base_manager.filter(**{self.name: pair.survivor.pk})

    @property
    def label(self) -> str:
        return str(self.model._meta.verbose_name_plural)


def relations() -> list[Relation]:
    found = []
    for rel in worker_relations():
        key, model, fk = key_of(rel), rel.related_model, rel.field
        handler = HANDLERS.get(key)
        if handler is None:
            if rel.many_to_many or unique_with(model, fk.name):  # type: ignore[arg-type]
                raise ImproperlyConfigured(f"{key}: say in people/merge.py how it merges")
            handler = Move()
        found.append(Relation(key, model, fk.name, fk.attname, handler))
    return found


def relation_label(key: str) -> str:
    """The records a relation holds, in words ("bank accounts")."""
    return next((r.label for r in relations() if r.key == key), key)


def field_label(attname: str) -> str:
    """A Worker field in words."""
    found = next((f for f in Worker._meta.concrete_fields if f.attname == attname), None)
    return str(found.verbose_name) if found is not None else attname


# --- the plan ----------------------------------------------------------------------------


def may_merge(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.can(Capability.EDIT_PEOPLE))


def _field_changes(survivor: Worker, duplicate: Worker) -> tuple[dict[str, list], dict[str, list]]:
    """Fields the survivor lacks and takes from the duplicate; fields where both differ."""
    filled: dict[str, list] = {}
    differing: dict[str, list] = {}
    for f in Worker._meta.concrete_fields:
        if f.primary_key or not f.editable:  # derived (sex, birth date) or bookkeeping
            continue
        mine, theirs = getattr(survivor, f.attname), getattr(duplicate, f.attname)
        if theirs in (None, "") or mine == theirs:
            continue
        target = filled if mine in (None, "") and not f.unique else differing
        target[f.attname] = [mine, theirs]
    return filled, differing


def _plan(pair: Pair) -> Plan:
    counts: dict[str, int] = {}
    outcomes: list[Outcome] = []
    money = False
    for relation in relations():
        rows = relation.rows(pair)
        counts[relation.key] = rows.count()
        if counts[relation.key]:
            outcomes += relation.handler.conflicts(pair, relation)
            money = money or relation.handler.money
    filled, differing = _field_changes(pair.survivor, pair.duplicate)
    return Plan(pair.survivor, pair.duplicate, counts, outcomes, filled, differing, money)


def _scoped(user: Any, pks: Iterable[int], lock: bool) -> dict[int, Worker]:
    workers = Worker.objects.for_user(user, merged=True).filter(pk__in=list(pks)).order_by("pk")
    if lock:  # in key order, so two merges of overlapping pairs cannot deadlock
        workers = workers.select_for_update(of=("self",))
    return {w.pk: w for w in workers}


def _require(user: Any, survivor: Worker, duplicate: Worker, lock: bool) -> Pair:
    if not may_merge(user):
        raise NotAllowed(_("Your role does not allow this."))
    if survivor.pk == duplicate.pk:
        raise DomainError(_("Choose two different workers."), "duplicate")
    found = _scoped(user, (survivor.pk, duplicate.pk), lock)
    for pk, name in ((survivor.pk, "survivor"), (duplicate.pk, "duplicate")):
        if pk not in found:
            raise NotAllowed(_("This worker is outside your organisation."), field=name)
    return Pair(user, found[survivor.pk], found[duplicate.pk])


def _refuse_merged(pair: Pair) -> None:
    s, d = pair.survivor, pair.duplicate
    if d.merged_into_id is not None:
        raise DomainError(
            _("%(name)s (worker %(pk)s) was already merged into worker %(into)s.")
            % {"name": d.name, "pk": d.pk, "into": d.merged_into_id},
            "duplicate",
        )
    if s.merged_into_id is not None:
        raise DomainError(
            _(
                "%(name)s (worker %(pk)s) was merged into worker %(into)s and cannot take "
                "in another record."
            )
            % {"name": s.name, "pk": s.pk, "into": s.merged_into_id},
            "survivor",
        )


def plan_merge(user: Any, survivor: Worker, duplicate: Worker) -> Plan:
    """What :func:`merge_workers` would move and settle, for the page and ``--dry-run``."""
    pair = _require(user, survivor, duplicate, lock=False)
    _refuse_merged(pair)
    return _plan(pair)


Held = dict[int, dict[str, int]]  # worker id -> relation key -> records


def holdings(*workers: Worker) -> Held:
    """How many records of each relation point at each worker: one grouped count per
    relation, whatever the number of workers."""
    found = relations()
    held: Held = {w.pk: dict.fromkeys((r.key for r in found), 0) for w in workers}
    for r in found:
        rows = r.model._base_manager.filter(**{f"{r.name}__in": list(held)}).order_by()
        for pk, count in rows.values(r.name).annotate(n=Count("pk")).values_list(r.name, "n"):
            held[pk][r.key] = count
    return held


def carries_money(held: dict[str, int]) -> bool:
    """Files, assistance or bank cards among one worker's holdings: four eyes to merge."""
    return any(count and HANDLERS[key].money for key, count in held.items() if key in HANDLERS)


# Queue entries, not the person's history: they do not weigh in choosing the survivor.
NOT_HISTORY = frozenset({"discovery.linkreview.worker", "discovery.linkreview.other_worker"})


def history(held: dict[str, int]) -> int:
    """How many records of the person's history one worker's holdings count."""
    return sum(n for key, n in held.items() if key not in NOT_HISTORY)


def _valid(worker: Worker) -> bool:
    try:
        validate_id_number(worker.id_number)
    except ValidationError:
        return False
    return True


def default_survivor(a: Worker, b: Worker, held: Held | None = None) -> Worker:
    """The record that should stay: a valid ID number first, then more history (files,
    memberships, aid …), then the one registered first."""
    held = held or holdings(a, b)
    return min((a, b), key=lambda w: (not _valid(w), -history(held[w.pk]), w.pk))


# --- the merge ---------------------------------------------------------------------------


def _check_review(user: Any, review: LinkReview, pair: Pair) -> LinkReview:
    from gonghui.discovery.models import LinkDecision, LinkKind, LinkReview

    # Locked: a decision changed meanwhile is read as it now stands (``linking.decide``
    # locks the same row, and refuses to change the decision of a merged pair).
    reviews = LinkReview.objects.for_user(user).select_for_update(of=("self",))
    found = reviews.filter(pk=review.pk).first()
    if found is None:
        raise NotAllowed(_("This pair is in the queue of another union."), field="review")
    pks = {pair.survivor.pk, pair.duplicate.pk}
    if found.kind != LinkKind.DEDUPE or {found.worker_id, found.other_worker_id} != pks:
        raise DomainError(_("This review is not about these two workers."), "review")
    if found.decision != LinkDecision.SAME_PERSON:
        raise DomainError(_("Only a pair decided “same person” can be merged."), "review")
    return found


def _four_eyes(user: Any, plan: Plan, review: LinkReview | None) -> None:
    """Money follows the person: a merge that moves files, aid or cards needs two people."""
    if not plan.money:
        return
    if review is None:
        raise NotAllowed(
            _(
                "%(name)s has hardship files, assistance or bank cards: the pair must first "
                "be decided “same person” in the linkage review queue."
            )
            % {"name": plan.duplicate.name},
            field="review",
        )
    if review.decided_by_id == user.pk:
        raise NotAllowed(
            _(
                "%(name)s has hardship files, assistance or bank cards: a colleague other "
                "than the one who decided “same person” must merge the records."
            )
            % {"name": plan.duplicate.name},
            field="review",
        )


def _refuse_blocked(plan: Plan) -> None:
    if plan.blocked:
        raise DomainError(
            _(
                "Both records were visited in the same holiday-visit campaign; settle the "
                "double visit before merging them."
            ),
            "duplicate",
        )


def _apply(pair: Pair, plan: Plan) -> dict[str, int]:
    moved: dict[str, int] = {}
    for relation in relations():
        if not plan.counts.get(relation.key):
            continue
        for outcome in plan.outcomes:
            if outcome.relation == relation.key:
                relation.handler.settle(pair, relation, outcome)
        relation.handler.follow(pair, relation)
        rows, survivor = relation.rows(pair), pair.survivor.pk
        moved[relation.key] = update_rows(pair, rows, relation.path, **{relation.attname: survivor})
    return moved


def _mark(pair: Pair, plan: Plan) -> None:
    s, d = pair.survivor, pair.duplicate
    for name, (_mine, theirs) in plan.filled.items():
        setattr(s, name, theirs)
    if plan.filled:
        s.save(update_fields=[*plan.filled, "updated_at"])
    d.merged_into, d.merged_at = s, pair.now
    d.save(update_fields=["merged_into", "merged_at", "updated_at"])


def _audit(
    pair: Pair, plan: Plan, before: dict[str, Any], moved: dict[str, int], review: Any
) -> None:
    details = {
        "survivor": pair.survivor.pk,
        "duplicate": pair.duplicate.pk,
        "review": review.pk if review is not None else None,
        "before": before,
        "moved": moved,
        "settled": [asdict(o) for o in plan.outcomes],
        "filled": plan.filled,
        "differing": plan.differing,
    }
    for worker in (pair.survivor, pair.duplicate):
        AuditEntry.objects.create(
            at=pair.now,
            actor=pair.user,
            source=current_source(),
            action=AuditAction.UPDATE,
            model=Worker._meta.label_lower,
            object_id=str(worker.pk),
            org_path=worker.organisation.path,
            changes={"merge": details},
        )


def merge_workers(
    user: Any, survivor: Worker, duplicate: Worker, review: LinkReview | None = None
) -> MergeResult:
    """Merge ``duplicate`` into ``survivor`` (see the module's text); a second call for
    the same pair changes nothing and says so (``already``)."""
    try:
        with transaction.atomic():
            pair = _require(user, survivor, duplicate, lock=True)
            if pair.duplicate.merged_into_id == pair.survivor.pk:
                return MergeResult(pair.survivor, pair.duplicate, already=True)
            _refuse_merged(pair)
            decided = _check_review(user, review, pair) if review is not None else None
            plan = _plan(pair)
            _four_eyes(user, plan, decided)
            _refuse_blocked(plan)
            before = {"survivor": snapshot(pair.survivor), "duplicate": snapshot(pair.duplicate)}
            moved = _apply(pair, plan)
            _mark(pair, plan)
            _audit(pair, plan, before, moved, decided)
    except IntegrityError:
        # A record was added to one of the two while the merge was planned (a card, a
        # membership): nothing was changed; the next attempt plans with it.
        raise Conflict(
            _("One of the two records changed while they were being merged; try again.")
        ) from None
    return MergeResult(
        pair.survivor, pair.duplicate, False, moved, plan.outcomes, plan.filled, plan.differing
    )


__all__ = [
    "HANDLERS",
    "MergeResult",
    "Plan",
    "Settled",
    "default_survivor",
    "may_merge",
    "merge_workers",
    "plan_merge",
    "relations",
]
