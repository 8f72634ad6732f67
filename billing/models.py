"""Money: price plans, one prepaid account per tenant, an append-only ledger, monthly statements.

All amounts are Decimal yuan with 4 places. The ledger is the truth; `Account.balance` is a cache
of the sum of the tenant's ledger amounts, updated in the same transaction as each entry
(`manage.py billing_check` proves they agree).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from smsportal.enums import MessageClass
from tenants.models import TenantOwned

MONEY = {"max_digits": 16, "decimal_places": 4}
PRICE = {"max_digits": 10, "decimal_places": 4}
ZERO = Decimal("0.0000")

# Rich (图文/MMS) messages are priced per message, not per segment, and do not count towards
# the segment tiers. Ledger callers pass this value as the message class of a rich message.
RICH = "rich"


class PricePlan(models.Model):
    """A platform-wide plan (staff-made). Tenants without an assignment use the default plan."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    is_default = models.BooleanField(_("platform default"), default=False)
    rich_message_price = models.DecimalField(_("rich message price (per message)"), default=ZERO, **PRICE)
    monthly_fee = models.DecimalField(_("monthly fee"), default=ZERO, **PRICE)
    monthly_minimum = models.DecimalField(_("monthly minimum spend"), default=ZERO, **PRICE)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="priceplan_one_default")
        ]

    def __str__(self) -> str:
        return self.name


class PriceTier(models.Model):
    """One band of a graduated table. `message_class` blank = the table for every class that has
    no table of its own. Segments are numbered from 1 within the tenant's month."""

    plan = models.ForeignKey(PricePlan, on_delete=models.CASCADE, related_name="tiers")
    message_class = models.CharField(_("message class"), max_length=16, choices=MessageClass.choices, blank=True)
    first_segment = models.PositiveBigIntegerField(_("from segment"))
    last_segment = models.PositiveBigIntegerField(_("to segment"), null=True, blank=True)  # null: no upper bound
    unit_price = models.DecimalField(_("price per segment"), **PRICE)

    class Meta:
        ordering = ["plan", "message_class", "first_segment"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "message_class", "first_segment"], name="pricetier_unique_start")
        ]

    def __str__(self) -> str:
        return f"{self.first_segment}–{self.last_segment or '∞'} @ {self.unit_price}"


class PlanAssignment(TenantOwned):
    """The tenant uses `plan` from `starts_on` (tenant's local date) until the next assignment."""

    plan = models.ForeignKey(PricePlan, on_delete=models.PROTECT, related_name="assignments")
    starts_on = models.DateField(_("starts on"))
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["tenant", "-starts_on"]
        constraints = [models.UniqueConstraint(fields=["tenant", "starts_on"], name="planassignment_unique_start")]


class Account(TenantOwned):
    """The tenant's prepaid account. `balance` = sum of ledger amounts (available money, active
    reserves already deducted); `reserved` = sum of active reserves (for display)."""

    balance = models.DecimalField(_("balance"), default=ZERO, **MONEY)
    reserved = models.DecimalField(_("reserved"), default=ZERO, **MONEY)
    credit_limit = models.DecimalField(_("credit limit"), default=ZERO, **MONEY)
    low_balance_threshold = models.DecimalField(_("low-balance alert threshold"), null=True, blank=True, **MONEY)
    # Set when the alert went out; cleared when the balance rises above the threshold again,
    # so each dip sends one email rather than one per capture batch.
    low_balance_alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"], name="account_one_per_tenant")]

    def __str__(self) -> str:
        return f"account of tenant {self.tenant_id}: {self.balance}"

    @property
    def is_low(self) -> bool:
        return self.low_balance_threshold is not None and self.balance < self.low_balance_threshold


class LedgerKind(models.TextChoices):
    TOP_UP = "top_up", _("Top-up")
    RESERVE = "reserve", _("Reserve")
    CAPTURE = "capture", _("Charge")
    RELEASE = "release", _("Release")
    REFUND = "refund", _("Refund")
    ADJUSTMENT = "adjustment", _("Adjustment")
    FEE = "fee", _("Monthly fee")


MESSAGE_KINDS = (LedgerKind.RESERVE, LedgerKind.CAPTURE, LedgerKind.RELEASE)


class LedgerEntry(TenantOwned):
    """Append-only. Signed `amount`: money in (+) or out (−) of the available balance.

    Three rows per message (reserve, capture or release, release): no index another covers
    (the composite ones start with tenant), the author index only where there is one, and no
    database-level check of the tenant reference (set by our code; tenants are never deleted)."""

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    kind = models.CharField(_("kind"), max_length=16, choices=LedgerKind.choices)
    amount = models.DecimalField(_("amount"), **MONEY)
    occurred_at = models.DateTimeField(_("time"))  # decides the statement month
    message_id = models.BigIntegerField(null=True, blank=True)  # messaging.Message id, no FK on purpose
    message_class = models.CharField(max_length=16, blank=True)
    segments = models.PositiveIntegerField(null=True, blank=True)
    # Captures: [[tier number, segments, unit price], ...] (a message may straddle a tier).
    pricing = models.JSONField(null=True, blank=True)
    period = models.DateField(null=True, blank=True)  # fee entries: first day of the month charged
    reference = models.CharField(_("reference"), max_length=100, blank=True)  # bank transfer reference
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "message_id", "kind"],
                condition=Q(message_id__isnull=False),
                name="ledger_once_per_message_kind",
            ),
            models.UniqueConstraint(
                fields=["tenant", "period", "kind"], condition=Q(kind="fee"), name="ledger_one_fee_per_month"
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["reserve", "capture", "release"]) | Q(message_id__isnull=False),
                name="ledger_message_kinds_have_message",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "occurred_at"], name="ledger_tenant_time"),
            models.Index(fields=["tenant", "kind", "occurred_at"], name="ledger_tenant_kind_time"),
            models.Index(fields=["created_by"], name="ledger_created_by", condition=Q(created_by__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} (tenant {self.tenant_id})"


class MonthlyUsage(TenantOwned):
    """Delivered billable segments of a tenant's month so far: the position in the tier table.
    Locked (SELECT … FOR UPDATE) by every capture batch so concurrent captures price exactly."""

    month = models.DateField()  # first day of the month, tenant's time zone
    delivered_segments = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "month"], name="monthlyusage_unique_month")]


class Statement(TenantOwned):
    period = models.DateField(_("month"))  # first day of the month
    opening_balance = models.DecimalField(**MONEY)
    closing_balance = models.DecimalField(**MONEY)
    charges_total = models.DecimalField(**MONEY)
    top_ups_total = models.DecimalField(**MONEY)
    refunds_total = models.DecimalField(**MONEY)
    adjustments_total = models.DecimalField(**MONEY)
    fees_total = models.DecimalField(**MONEY)
    reserved_change = models.DecimalField(**MONEY)  # net reserves taken (−) / given back (+) in the month
    segments_total = models.BigIntegerField(default=0)
    messages_total = models.BigIntegerField(default=0)
    lines = models.JSONField(default=list)  # volumes per class and tier with unit prices
    details = models.JSONField(default=dict)  # plan name, top-up/refund/adjustment rows
    revision = models.PositiveIntegerField(default=1)
    generated_at = models.DateTimeField()
    generated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    pdf = models.BinaryField(editable=False)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["tenant", "-period"]
        constraints = [models.UniqueConstraint(fields=["tenant", "period"], name="statement_unique_month")]

    def __str__(self) -> str:
        return f"statement {self.period:%Y-%m} tenant {self.tenant_id}"
