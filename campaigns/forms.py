from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django import forms
from django.utils.translation import gettext_lazy as _

from campaigns.models import ContactList
from campaigns.selectors import CONDITION_OPS
from smsportal.enums import Carrier, MessageClass


class UploadForm(forms.Form):
    contact_list = forms.ModelChoiceField(
        label=_("Add to list"), queryset=ContactList.objects.none(), required=False, empty_label=_("— a new list —")
    )
    new_list_name = forms.CharField(label=_("New list name"), max_length=100, required=False)
    file = forms.FileField(label=_("CSV or XLSX file"), help_text=_("UTF-8 or GBK; the first row names the columns."))
    number_column = forms.CharField(
        label=_("Number column"),
        max_length=100,
        required=False,
        help_text=_("Leave empty to find it by name (手机号, phone, mobile…)."),
    )

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contact_list"].queryset = ContactList.objects.for_tenant(tenant)

    def clean(self):
        data = super().clean()
        if not data.get("contact_list") and not (data.get("new_list_name") or "").strip():
            self.add_error("new_list_name", _("Name the new list or choose an existing one."))
        return data


def _parse_conditions(text: str) -> list[dict]:
    conditions = []
    for line in (text or "").splitlines():
        parts = line.strip().split(None, 2)
        if not parts:
            continue
        if len(parts) < 2 or parts[1] not in CONDITION_OPS:
            raise forms.ValidationError(
                _("Write each condition as: field op value (op is one of %(ops)s).") % {"ops": ", ".join(CONDITION_OPS)}
            )
        conditions.append({"field": parts[0], "op": parts[1], "value": parts[2] if len(parts) > 2 else ""})
    return conditions


def _parse_variables(text: str) -> dict:
    variables = {}
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        name, sep, rest = line.partition("=")
        kind, _space, value = rest.strip().partition(" ")
        if not sep or kind not in ("column", "value"):
            raise forms.ValidationError(_("Write each line as: variable = column NAME, or variable = value TEXT."))
        variables[name.strip()] = {kind: value.strip()}
    return variables


class CampaignForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    template_id = forms.TypedChoiceField(label=_("Template (approved)"), coerce=int)
    list_ids = forms.TypedMultipleChoiceField(label=_("Contact lists"), coerce=int, widget=forms.CheckboxSelectMultiple)
    carriers = forms.MultipleChoiceField(
        label=_("Carriers"), choices=Carrier.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    provinces = forms.CharField(
        label=_("Provinces"), required=False, help_text=_("Comma separated, e.g. 广东省, 上海市; empty = all.")
    )
    conditions = forms.CharField(
        label=_("Attribute conditions"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One per line: field op value, e.g. “积分 gte 100” (ops: eq ne contains gt gte lt lte exists)."),
    )
    consent = forms.ChoiceField(
        label=_("Consent"),
        choices=[
            ("any", _("Everyone (consent is still checked at sending)")),
            ("granted", _("Only numbers with marketing consent")),
            ("not_granted", _("Only numbers without marketing consent")),
        ],
        initial="any",
    )
    variables = forms.CharField(
        label=_("Template variables"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "One per line: “name = column 姓名” or “shop = value 华美南京店”. Same-named columns map by themselves."
        ),
    )
    link_variable = forms.CharField(label=_("Short-link variable"), max_length=64, required=False)
    link_url = forms.URLField(label=_("Link target"), max_length=500, required=False, assume_scheme="https")
    send_at = forms.DateTimeField(
        label=_("Send at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        help_text=_("In your account's time zone; empty = when you start it."),
    )
    respect_quiet_hours = forms.BooleanField(label=_("Respect quiet hours"), required=False, initial=True)
    rate_per_minute = forms.IntegerField(
        label=_("Send rate cap (messages per minute)"), min_value=0, initial=0, help_text=_("0 = no cap.")
    )

    def __init__(self, *args, tenant, templates, lists, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.fields["template_id"].choices = [(t.pk, f"{t.name} ({t.get_kind_display()})") for t in templates]
        self.fields["list_ids"].choices = [(cl.pk, f"{cl.name} ({cl.contact_count})") for cl in lists]

    def clean_provinces(self):
        text = self.cleaned_data.get("provinces") or ""
        return [p.strip() for p in text.replace("，", ",").split(",") if p.strip()]

    def clean_conditions(self):
        return _parse_conditions(self.cleaned_data.get("conditions") or "")

    def clean_variables(self):
        return _parse_variables(self.cleaned_data.get("variables") or "")

    def clean_send_at(self):
        value = self.cleaned_data.get("send_at")
        if value is None:
            return None
        naive = value.replace(tzinfo=None) if value.tzinfo else value
        return naive.replace(tzinfo=ZoneInfo(self.tenant.timezone)).astimezone(dt.UTC)

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "template_id": data["template_id"],
            "list_ids": data["list_ids"],
            "audience_filter": {
                "carriers": data["carriers"],
                "provinces": data["provinces"],
                "conditions": data["conditions"],
                "consent": data["consent"],
            },
            "variables": data["variables"],
            "link_variable": data["link_variable"].strip(),
            "link_url": data["link_url"],
            "send_at": data["send_at"],
            "respect_quiet_hours": data["respect_quiet_hours"],
            "rate_per_minute": data["rate_per_minute"] or 0,
        }

    @staticmethod
    def initial_for(campaign) -> dict:
        spec = campaign.audience_filter or {}
        send_at = campaign.send_at.astimezone(ZoneInfo(campaign.tenant.timezone)) if campaign.send_at else None
        return {
            "name": campaign.name,
            "template_id": campaign.template_id,
            "list_ids": list(campaign.contact_lists.values_list("pk", flat=True)),
            "carriers": spec.get("carriers", []),
            "provinces": ", ".join(spec.get("provinces", [])),
            "conditions": "\n".join(
                f"{c['field']} {c['op']} {c.get('value', '')}".strip() for c in spec.get("conditions", [])
            ),
            "consent": spec.get("consent", "any"),
            "variables": "\n".join(
                f"{name} = {'column' if 'column' in src else 'value'} {src.get('column', src.get('value', ''))}"
                for name, src in (campaign.variables or {}).items()
            ),
            "link_variable": campaign.link_variable,
            "link_url": campaign.link_url,
            "send_at": send_at.replace(tzinfo=None) if send_at else None,
            "respect_quiet_hours": campaign.respect_quiet_hours,
            "rate_per_minute": campaign.rate_per_minute,
        }


class TestSendForm(forms.Form):
    numbers = forms.CharField(label=_("Test numbers"), help_text=_("Up to 5, separated by commas."))

    def clean_numbers(self):
        text = self.cleaned_data["numbers"].replace("，", ",")
        return [n.strip() for n in text.split(",") if n.strip()]


class SettingsForm(forms.Form):
    send_window_start = forms.TimeField(label=_("Send from"), widget=forms.TimeInput(attrs={"type": "time"}))
    send_window_end = forms.TimeField(label=_("Send until"), widget=forms.TimeInput(attrs={"type": "time"}))
    quiet_classes = forms.MultipleChoiceField(
        label=_("Classes that respect quiet hours"),
        choices=MessageClass.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
