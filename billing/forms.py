from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django import forms
from django.utils.translation import gettext_lazy as _

from billing.models import LedgerKind, PricePlan
from smsportal.enums import MessageClass

TIER_LINE = re.compile(r"^\s*(\d+)\s*[-–~]\s*(\d*)\s+(?:¥)?([0-9]+(?:\.[0-9]+)?)\s*$")
TIER_HELP = _("One tier per line: “first-last price”, the last open-ended, e.g. 1-100000 0.13 / 100001- 0.11")


def parse_tiers(text: str) -> list[tuple[int, int | None, Decimal]]:
    bands = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        match = TIER_LINE.match(line)
        if not match:
            raise forms.ValidationError(_("Line %(n)s is not “first-last price”.") % {"n": number})
        first, last, price = match.groups()
        try:
            bands.append((int(first), int(last) if last else None, Decimal(price)))
        except InvalidOperation:
            raise forms.ValidationError(_("Line %(n)s has an invalid price.") % {"n": number}) from None
    return bands


class ThresholdForm(forms.Form):
    threshold = forms.DecimalField(
        label=_("Alert me when the balance falls below (¥)"), required=False, min_value=0, decimal_places=4
    )


class LedgerFilterForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), required=False, choices=[("", _("All")), *LedgerKind.choices])
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(
        label=_("Until (exclusive)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class TopUpForm(forms.Form):
    amount = forms.DecimalField(label=_("Amount (¥)"), decimal_places=4, max_digits=14)
    reference = forms.CharField(label=_("Bank transfer reference"), max_length=100)
    note = forms.CharField(label=_("Internal note"), max_length=300, required=False)


class AdjustmentForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount (¥)"), decimal_places=4, max_digits=14, help_text=_("Positive credits, negative debits.")
    )
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)  # the service insists


class RefundForm(forms.Form):
    message_id = forms.IntegerField(label=_("Message id (optional)"), required=False, min_value=1)
    amount = forms.DecimalField(
        label=_("Amount (¥)"),
        decimal_places=4,
        max_digits=14,
        required=False,
        help_text=_("Leave empty to refund a message's full charge."),
    )
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)


class CreditLimitForm(forms.Form):
    credit_limit = forms.DecimalField(label=_("Credit limit (¥)"), decimal_places=4, max_digits=14)


class PlanAssignForm(forms.Form):
    plan = forms.ModelChoiceField(label=_("Price plan"), queryset=PricePlan.objects.all())
    starts_on = forms.DateField(label=_("Starts on"), widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label=_("Internal note"), max_length=200, required=False)


class StatementRegenerateForm(forms.Form):
    month = forms.CharField(
        label=_("Month"), widget=forms.TextInput(attrs={"type": "month", "placeholder": "2026-10"}), max_length=7
    )
    email = forms.BooleanField(label=_("Email it to finance members and owners"), required=False)

    def clean_month(self):
        value = self.cleaned_data["month"].strip()
        match = re.fullmatch(r"(\d{4})-(\d{1,2})", value)
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise forms.ValidationError(_("Enter a month as YYYY-MM."))
        return int(match.group(1)), int(match.group(2))


class PricePlanForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    tiers = forms.CharField(
        label=_("Tiers for every class"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=TIER_HELP,
        initial="1-100000 0.13\n100001-500000 0.11\n500001- 0.09",
    )
    rich_message_price = forms.DecimalField(label=_("Rich message price (per message)"), decimal_places=4, initial=0)
    monthly_fee = forms.DecimalField(label=_("Monthly fee"), decimal_places=4, initial=0)
    monthly_minimum = forms.DecimalField(label=_("Monthly minimum spend"), decimal_places=4, initial=0)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for value, label in MessageClass.choices:
            self.fields[f"tiers_{value}"] = forms.CharField(
                label=_("Own tiers for: %(c)s (optional)") % {"c": label},
                required=False,
                widget=forms.Textarea(attrs={"rows": 2}),
            )

    def clean(self):
        data = super().clean()
        tables = {}
        for name in ["tiers", *[f"tiers_{v}" for v in MessageClass.values]]:
            if not data.get(name):
                continue
            try:
                tables["" if name == "tiers" else name.removeprefix("tiers_")] = parse_tiers(data[name])
            except forms.ValidationError as error:
                self.add_error(name, error)
        data["tables"] = tables
        return data
