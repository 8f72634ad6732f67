"""Staff forms for the SMPP reviews page: the filter bar and the resolve action."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from messaging.models import Channel
from smsportal.enums import FailureReason
from smsportal.numbers import InvalidNumber, normalize

from .models import SmppReview
from .services import ACTION_FAIL, ACTION_RESEND, ACTION_SENT


class ReviewFilterForm(forms.Form):
    state = forms.ChoiceField(
        label=_("State"),
        required=False,
        choices=[("open", _("Open")), ("resolved", _("Resolved")), ("all", _("All"))],
    )
    channel = forms.ModelChoiceField(
        label=_("Channel"),
        required=False,
        queryset=Channel.objects.filter(adapter=Channel.Adapter.SMPP).order_by("name"),
        empty_label=_("Any channel"),
    )
    reason = forms.ChoiceField(
        label=_("Reason"), required=False, choices=[("", _("Any reason")), *SmppReview.Reason.choices]
    )
    number = forms.CharField(label=_("Number"), required=False, max_length=20)

    def clean_number(self):
        raw = (self.cleaned_data.get("number") or "").strip()
        if not raw:
            return ""
        try:
            return normalize(raw).e164
        except InvalidNumber:
            raise forms.ValidationError(_("Enter a valid mobile number.")) from None

    def filters(self) -> dict:
        data = self.cleaned_data if self.is_valid() else {}
        channel = data.get("channel")
        return {
            "state": data.get("state") or "open",
            "channel_id": channel.pk if channel else None,
            "reason": data.get("reason") or "",
            "number": data.get("number") or "",
        }


class IdListField(forms.Field):
    """Several ids under one name (checkboxes in a table)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[int]:
        try:
            ids = sorted({int(item) for item in value or []})
        except (TypeError, ValueError):
            raise forms.ValidationError(_("Select the messages to resolve.")) from None
        if not ids and self.required:
            raise forms.ValidationError(_("Select the messages to resolve."))
        return ids

    def validate(self, value) -> None:
        pass


class ReviewResolveForm(forms.Form):
    review = IdListField(label=_("Reviews"))
    action = forms.ChoiceField(
        label=_("Action"),
        choices=[
            (ACTION_SENT, _("Confirmed sent: wait for its receipt")),
            (ACTION_RESEND, _("Not sent: send again")),
            (ACTION_FAIL, _("Give up: fail with a reason")),
        ],
    )
    reason = forms.ChoiceField(label=_("Failure reason"), required=False, choices=[("", "—"), *FailureReason.choices])
    note = forms.CharField(label=_("Operator note"), required=False, max_length=300)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("action") == ACTION_FAIL and not cleaned.get("reason"):
            self.add_error("reason", _("Choose a failure reason."))
        return cleaned
