"""How money arrives: the interface an online payment gateway will implement later.

Today the only method is a bank transfer, recorded by staff (`services.account_top_up` with
the bank's reference). An online gateway (e.g. Alipay / WeChat Pay / UnionPay) will implement
`PaymentGateway`: it starts a payment for a tenant, and its confirmed notification calls
`account_top_up` with the gateway's transaction id as the reference — which is unique per
tenant, so a notification delivered twice books the money once.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class PaymentStart:
    reference: str  # the gateway's transaction id, later the top-up's reference
    redirect_url: str = ""  # where the payer completes the payment, if any
    instructions: str = ""  # what to tell the payer (e.g. bank account details)


@dataclass(frozen=True)
class PaymentConfirmation:
    reference: str
    amount: Decimal
    tenant_id: int


class PaymentGateway(Protocol):
    name: str

    def start(self, *, tenant, amount: Decimal) -> PaymentStart: ...

    def confirm(self, *, payload: dict, headers: dict) -> PaymentConfirmation | None:
        """Verify a gateway notification (signature!) and return what was paid, or None."""
        ...


class BankTransfer:
    """The one method today: the tenant transfers money, staff record it on arrival."""

    name = "bank_transfer"

    def start(self, *, tenant, amount: Decimal) -> PaymentStart:
        from django.utils.translation import gettext as _

        return PaymentStart(
            reference="",
            instructions=_("Transfer to the platform's bank account with your enterprise name in the note."),
        )

    def confirm(self, *, payload: dict, headers: dict) -> PaymentConfirmation | None:
        return None  # confirmed by staff in the staff area, not by a callback


GATEWAYS: dict[str, PaymentGateway] = {BankTransfer.name: BankTransfer()}
