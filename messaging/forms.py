from __future__ import annotations

import json

from django import forms
from django.utils.translation import gettext_lazy as _

from messaging.adapters.base import adapter_settings_errors, mask_secrets, registered_adapters
from messaging.models import Channel
from smsportal.enums import Carrier, MessageClass, MessageStatus
from tenants.models import Tenant


class MessageFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any status")), *list(MessageStatus.choices)]
    )
    number = forms.CharField(label=_("Number"), required=False, max_length=20)
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    template = forms.IntegerField(label=_("Template ID"), required=False, min_value=1)
    campaign = forms.IntegerField(label=_("Campaign ID"), required=False, min_value=1)
    client_ref = forms.CharField(label=_("Client reference"), required=False, max_length=100)


class TestSendForm(forms.Form):
    template = forms.TypedChoiceField(label=_("Template"), coerce=int)
    number = forms.CharField(label=_("Mobile number"), max_length=20)

    def __init__(self, *args, templates=(), variables=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = [("", "—")] + [
            (t.pk, f"{t.name} ({t.get_kind_display()})") for t in templates
        ]
        self.variable_names = []
        for spec in variables:
            name = spec.get("name")
            if not name:
                continue
            self.variable_names.append(name)
            self.fields[f"var_{name}"] = forms.CharField(
                label=_("Variable “%(name)s”") % {"name": name},
                required=False,
                initial=spec.get("example", ""),
                max_length=200,
            )

    def variables(self) -> dict:
        return {name: self.cleaned_data.get(f"var_{name}", "") for name in self.variable_names}


def _multi(choices, label):
    return forms.MultipleChoiceField(label=label, choices=choices, widget=forms.CheckboxSelectMultiple)


class ChannelForm(forms.ModelForm):
    carriers = _multi([c for c in Carrier.choices if c[0] != Carrier.UNKNOWN], _("Carriers served"))
    message_classes = _multi(MessageClass.choices, _("Message classes allowed"))
    provinces_text = forms.CharField(
        label=_("Provinces served"),
        required=False,
        help_text=_("Comma separated, e.g. 广东省, 北京市. Empty means every province."),
    )
    settings_json = forms.CharField(
        label=_("Adapter settings (JSON)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_(
            "Secrets (keys containing token, secret, password, key…) are shown masked; "
            "leave a masked value unchanged to keep it."
        ),
    )
    pinned = forms.ModelMultipleChoiceField(
        label=_("Pinned tenants"),
        queryset=Tenant.objects.order_by("name"),
        required=False,
        help_text=_("A pinned tenant sends only through the channels it is pinned to."),
    )

    class Meta:
        model = Channel
        fields = [
            "name",
            "adapter",
            "rate_limit",
            "batch_size",
            "cost_per_message",
            "weight",
            "receipt_timeout_seconds",
            "enabled",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["adapter"].choices = [
            (a, dict(Channel.Adapter.choices).get(a, a)) for a in registered_adapters()
        ] or Channel.Adapter.choices
        if self.instance.pk:
            self.fields["carriers"].initial = self.instance.carriers
            self.fields["message_classes"].initial = self.instance.message_classes
            self.fields["provinces_text"].initial = ", ".join(self.instance.provinces)
            self.fields["settings_json"].initial = json.dumps(
                mask_secrets(self.instance.settings), ensure_ascii=False, indent=1
            )
            self.fields["pinned"].initial = list(self.instance.pinned_tenants.all())
        else:
            self.fields["message_classes"].initial = list(MessageClass.values)

    def clean_settings_json(self):
        raw = (self.cleaned_data.get("settings_json") or "").strip()
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            raise forms.ValidationError(_("Not valid JSON.")) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(_("Must be a JSON object."))
        return value

    def clean(self):
        """The adapter judges its own settings (host, port, credentials, window, TLS … for SMPP),
        on what would be saved: masked or blank secrets keep their stored values."""
        cleaned = super().clean()
        adapter = cleaned.get("adapter")
        submitted = cleaned.get("settings_json")
        if adapter and submitted is not None and "settings_json" not in self.errors:
            from messaging.services import merge_settings

            stored = self.instance.settings if self.instance.pk else {}
            for name, messages in adapter_settings_errors(adapter, merge_settings(stored or {}, submitted)).items():
                for message in messages:
                    self.add_error("settings_json", f"{name}: {message}" if name != "settings" else message)
        return cleaned

    def clean_provinces_text(self):
        raw = self.cleaned_data.get("provinces_text") or ""
        return [p.strip() for p in raw.replace("，", ",").split(",") if p.strip()]

    def values(self) -> dict:
        data = {f: self.cleaned_data[f] for f in self.Meta.fields}
        data["carriers"] = self.cleaned_data["carriers"]
        data["message_classes"] = self.cleaned_data["message_classes"]
        data["provinces"] = self.cleaned_data["provinces_text"]
        return data
