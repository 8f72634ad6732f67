from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from compliance.models import (
    ComplaintSource,
    ConsentAction,
    ConsentImport,
    ConsentSource,
    PlatformComplianceSettings,
    Purpose,
    SuppressionReason,
    SuppressionScope,
)

HAND_SOURCES = [(v, label) for v, label in ConsentSource.choices if v not in ("reply", "complaint", "api", "import")]
DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class NumberLookupForm(forms.Form):
    number = forms.CharField(label=_("Phone number"), max_length=32)


class ConsentForm(forms.Form):
    number = forms.CharField(label=_("Phone number"), max_length=32)
    purpose = forms.ChoiceField(label=_("Purpose"), choices=Purpose.choices)
    action = forms.ChoiceField(label=_("What happened"), choices=ConsentAction.choices, initial=ConsentAction.GRANT)
    source = forms.ChoiceField(label=_("Source"), choices=HAND_SOURCES)
    occurred_at = forms.DateTimeField(
        label=_("When"), required=False, widget=DATETIME_WIDGET, help_text=_("Leave empty for now.")
    )
    evidence_text = forms.CharField(label=_("Evidence"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    evidence_url = forms.URLField(label=_("Evidence link"), required=False, assume_scheme="https")
    evidence_file = forms.FileField(label=_("Evidence file"), required=False)


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV or XLSX file"),
        help_text=_(
            "UTF-8 or GBK. Columns: 手机号/number (required), 用途/purpose, 同意时间/granted_at, "
            "来源/source, 凭证/evidence, action (grant/revoke)."
        ),
    )
    purpose = forms.ChoiceField(label=_("Purpose when the row does not say"), choices=Purpose.choices)
    source = forms.ChoiceField(
        label=_("Source when the row does not say"), choices=ConsentSource.choices, initial=ConsentSource.IMPORT
    )
    evidence_text = forms.CharField(
        label=_("Evidence when the row does not say"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class ApplyImportForm(forms.Form):
    mode = forms.ChoiceField(
        label=_("How to apply"), choices=ConsentImport.Mode.choices, widget=forms.RadioSelect, initial="partial"
    )


class SuppressionBulkForm(forms.Form):
    numbers = forms.CharField(
        label=_("Numbers"),
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("One per line, or separated by commas."),
    )
    reason = forms.ChoiceField(label=_("Reason"), choices=SuppressionReason.choices, initial=SuppressionReason.MANUAL)
    scope = forms.ChoiceField(label=_("Scope"), choices=SuppressionScope.choices, initial=SuppressionScope.MARKETING)
    note = forms.CharField(label=_("Note"), max_length=500, required=False)

    def number_list(self) -> list[str]:
        import re

        return [n for n in re.split(r"[\s,;，；]+", self.cleaned_data["numbers"]) if n]


class SuppressionRemoveForm(forms.Form):
    numbers = forms.CharField(label=_("Numbers"), widget=forms.Textarea(attrs={"rows": 3}))
    note = forms.CharField(label=_("Why"), max_length=300, required=False)

    number_list = SuppressionBulkForm.number_list


class ComplaintForm(forms.Form):
    source = forms.ChoiceField(label=_("Source"), choices=ComplaintSource.choices)
    number = forms.CharField(label=_("Phone number"), max_length=32)
    text = forms.CharField(label=_("Complaint text"), widget=forms.Textarea(attrs={"rows": 4}))
    received_at = forms.DateTimeField(label=_("Received at"), required=False, widget=DATETIME_WIDGET)
    message_id = forms.IntegerField(label=_("Message id (if known)"), required=False, min_value=1)


class StaffComplaintForm(ComplaintForm):
    tenant = forms.ModelChoiceField(label=_("Enterprise"), queryset=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from tenants.models import Tenant

        self.fields["tenant"].queryset = Tenant.objects.order_by("name")
        self.order_fields(["tenant"])


class ComplaintStepForm(forms.Form):
    step = forms.ChoiceField(
        choices=[("acknowledge", _("Acknowledge")), ("investigate", _("Investigate")), ("resolve", _("Resolve"))]
    )
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class TenantComplianceSettingsForm(forms.Form):
    retention_days = forms.IntegerField(
        label=_("Keep message content and numbers for (days)"),
        min_value=180,
        help_text=_("At least 180 days (six months), the legal minimum."),
    )
    code_per_minute = forms.IntegerField(label=_("Codes per number per minute"), required=False, min_value=0)
    code_per_hour = forms.IntegerField(label=_("Codes per number per hour"), required=False, min_value=0)
    code_per_day = forms.IntegerField(label=_("Codes per number per day"), required=False, min_value=0)
    marketing_per_template_day = forms.IntegerField(
        label=_("Marketing messages per number per template per day"), required=False, min_value=0
    )
    notification_per_template_day = forms.IntegerField(
        label=_("Notifications per number per template per day"), required=False, min_value=0
    )


class PlatformSettingsForm(forms.ModelForm):
    class Meta:
        model = PlatformComplianceSettings
        fields = [
            "code_per_minute",
            "code_per_hour",
            "code_per_day",
            "marketing_per_template_day",
            "notification_per_template_day",
            "complaint_rate_threshold",
            "complaint_rate_min_delivered",
            "complaint_rate_window_days",
            "acknowledge_hours",
            "resolve_hours",
        ]


class ResumeForm(forms.Form):
    note = forms.CharField(label=_("Why marketing may resume"), widget=forms.Textarea(attrs={"rows": 2}))


class AuditFilterForm(forms.Form):
    action = forms.CharField(label=_("Action"), required=False, help_text=_("e.g. consent. or suppression.added"))
    actor = forms.CharField(label=_("Actor"), required=False)
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
