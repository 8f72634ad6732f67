from __future__ import annotations

from zoneinfo import available_timezones

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from tenants.models import ApiKey, Role

_TIMEZONES = sorted(tz for tz in available_timezones() if "/" in tz and not tz.startswith("Etc/"))


class TenantForm(forms.Form):
    name = forms.CharField(label=_("Enterprise name"), max_length=120)
    slug = forms.SlugField(
        label=_("Short name"),
        max_length=50,
        help_text=_("Lower-case letters, digits and hyphens; used in reports and URLs."),
    )
    contact_name = forms.CharField(label=_("Contact person"), max_length=100)
    contact_email = forms.EmailField(label=_("Contact email"))
    contact_phone = forms.CharField(label=_("Contact phone"), max_length=32, required=False)
    timezone = forms.ChoiceField(
        label=_("Time zone"), choices=[(tz, tz) for tz in _TIMEZONES], initial=settings.DEFAULT_TENANT_TIMEZONE
    )


class TenantSettingsForm(TenantForm):
    slug = None


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("Email"))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.OPERATOR)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class ApiKeyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=80)
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"), choices=ApiKey.Scope.choices, widget=forms.CheckboxSelectMultiple, initial=["send", "read"]
    )


class SuspendForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=300, widget=forms.Textarea(attrs={"rows": 2}))
