from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

PRESETS = [
    ("today", _("Today")),
    ("7d", _("Last 7 days")),
    ("30d", _("Last 30 days")),
    ("month", _("This month")),
    ("custom", _("Custom")),
]
MAX_RANGE_DAYS = 366


class PeriodForm(forms.Form):
    period = forms.ChoiceField(label=_("Period"), choices=PRESETS, required=False, initial="today")
    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, tenant_zone, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = timezone.localdate(timezone=tenant_zone)

    def clean(self):
        data = super().clean()
        preset = data.get("period") or "today"
        today = self.today
        if preset == "custom":
            start, end = data.get("start"), data.get("end")
            if not start or not end:
                raise forms.ValidationError(_("Choose both dates of a custom period."))
            if start > end:
                raise forms.ValidationError(_("The start date is after the end date."))
            if (end - start).days > MAX_RANGE_DAYS:
                raise forms.ValidationError(_("Choose at most one year."))
        elif preset == "7d":
            start, end = today - timedelta(days=6), today
        elif preset == "30d":
            start, end = today - timedelta(days=29), today
        elif preset == "month":
            start, end = today.replace(day=1), today
        else:
            start, end = today, today
        data["first"], data["last"] = start, end
        return data


class GenerateForm(forms.Form):
    month = forms.CharField(label=_("Month"), widget=forms.DateInput(attrs={"type": "month"}))

    def clean_month(self) -> date:
        value = self.cleaned_data["month"]
        try:
            year, month = (int(part) for part in value.split("-"))
            return date(year, month, 1)
        except (ValueError, TypeError):
            raise forms.ValidationError(_("Enter a month like 2026-10.")) from None


class RecipientsForm(forms.Form):
    extra_recipients = forms.CharField(
        label=_("Extra recipients"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One email address per line; owners and administrators always receive the report."),
    )
