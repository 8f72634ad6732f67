from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from messaging.webhooks.models import SUBSCRIBABLE_EVENTS, WebhookEvent


class EndpointForm(forms.Form):
    url = forms.URLField(
        label=_("Endpoint URL"),
        max_length=500,
        assume_scheme="https",
        help_text=_("We POST each event here as JSON, signed with your secret."),
    )
    events = forms.MultipleChoiceField(
        label=_("Events to send"), choices=SUBSCRIBABLE_EVENTS, widget=forms.CheckboxSelectMultiple
    )
    is_active = forms.BooleanField(label=_("Enabled"), required=False, initial=True)


class EventFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All")), *WebhookEvent.Status.choices]
    )
