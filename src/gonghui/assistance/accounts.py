"""Workers' bank cards: help is paid by name (实名) to a card in the worker's own name.

A worker has at most one card in use (a database constraint); recording a new one puts the
old one out of use, and the change is in the audit trail through the model's mixin.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from stdnum import luhn

from gonghui.accounts.choices import Capability
from gonghui.accounts.models import User
from gonghui.errors import Conflict, DomainError, NotAllowed
from gonghui.people.models import Worker

from .models import BankAccount

CARD_LENGTHS = range(12, 20)  # 12-19 digits: bank cards and older passbook accounts
LUHN_LENGTHS = range(16, 20)  # UnionPay debit cards (16-19 digits) carry a Luhn digit

_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def tidy_card(number: str) -> str:
    """The digits of a card number as people type it: spaces, dashes, full-width digits."""
    text = number.translate(_FULL_WIDTH_DIGITS)
    for noise in (" ", "\u3000", "-", "－", "\t"):
        text = text.replace(noise, "")
    return text


def check_card(number: str) -> str:
    """The tidied number, or a DomainError on ``account_number`` saying what is wrong."""
    digits = tidy_card(number)
    if not digits.isdigit() or len(digits) not in CARD_LENGTHS:
        raise DomainError(_("A card number has 12 to 19 digits."), field="account_number")
    if len(digits) in LUHN_LENGTHS and not luhn.is_valid(digits):
        raise DomainError(
            _("This card number is mistyped: its check digit does not match."),
            field="account_number",
        )
    return digits


def same_name(a: str, b: str) -> bool:
    return "".join(a.split()) == "".join(b.split())


def require_worker(user: User, worker: Worker) -> None:
    if not (user.can(Capability.PLAN_AID) or user.can(Capability.MANAGE_FUNDS)):
        raise NotAllowed(_("Your role does not allow this."))
    if user.organisation is None or not user.organisation.contains(worker.organisation):
        raise NotAllowed(_("This worker is outside your organisation."))


def save_bank_account(
    user: User, worker: Worker, *, bank_name: str, account_number: str, holder_name: str
) -> BankAccount:
    """Record the card the worker is paid to; the card in use until now is put aside."""
    require_worker(user, worker)
    bank_name = bank_name.strip()
    if not bank_name:
        raise DomainError(_("Name the bank."), field="bank_name")
    digits = check_card(account_number)
    if not same_name(holder_name, worker.name):
        raise DomainError(
            _("Help is paid by name: the card must be in %(name)s's own name.")
            % {"name": worker.name},
            field="holder_name",
        )
    try:
        with transaction.atomic():
            # At most one row: the card in use. Saved one by one so the audit records it.
            for old in BankAccount.objects.select_for_update().filter(worker=worker, active=True):
                old.active = False
                old.save()
            return BankAccount.objects.create(
                worker=worker,
                bank_name=bank_name,
                account_number=digits,
                holder_name=worker.name,
            )
    except IntegrityError:
        raise Conflict(
            _("Someone else changed this worker's card first; reload the page.")
        ) from None


def active_account(worker: Worker) -> BankAccount | None:
    return BankAccount.objects.filter(worker=worker, active=True).first()
