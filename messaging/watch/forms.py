from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from messaging.watch.models import ProviderCodeMapping
from smsportal.enums import FailureReason


class CodeMappingForm(forms.Form):
    scope = forms.ChoiceField(label=_("Applies to"), choices=ProviderCodeMapping.Scope.choices)
    code = forms.CharField(label=_("Raw code"), max_length=64)
    outcome = forms.ChoiceField(label=_("Outcome"), choices=ProviderCodeMapping.Outcome.choices)
    failure_reason = forms.ChoiceField(
        label=_("Failure reason"), choices=[("", "—"), *FailureReason.choices], required=False
    )
    note = forms.CharField(label=_("Note"), max_length=200, required=False)


class ResolveForm(forms.Form):
    note = forms.CharField(label=_("Resolution note"), max_length=500, required=False)
