from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from compliance.rules.variables import VARIABLE_TYPES
from smsportal.enums import MessageClass
from templates.models import Signature, TemplateFrame
from templates.services import REJECTION_REASONS


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data if item]
        return [super().clean(data, initial)] if data else []


def variable_type_choices():
    from django.utils.translation import get_language

    zh = (get_language() or "zh").startswith("zh")
    return [("", "—")] + [(t.id, t.label_zh if zh else t.label_en) for t in VARIABLE_TYPES.values()]


class VariableForm(forms.Form):
    name = forms.CharField(label=_("Variable"), max_length=30, required=False)
    type = forms.ChoiceField(label=_("Type"), required=False, choices=())
    max_length = forms.IntegerField(label=_("Max length"), min_value=1, max_value=100, required=False)
    example = forms.CharField(label=_("Example"), max_length=100, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["type"].choices = variable_type_choices()

    def clean(self):
        data = super().clean()
        if data.get("name") and not data.get("type"):
            self.add_error("type", _("Choose the variable's type."))
        return data


VariableFormSet = forms.formset_factory(VariableForm, extra=0, max_num=10, absolute_max=10)


def variables_from_formset(formset) -> list[dict]:
    return [
        {k: form.cleaned_data.get(k) for k in ("name", "type", "max_length", "example")}
        for form in formset.forms
        if form.cleaned_data.get("name")
    ]


def variable_formset(data=None, variables=None, spare: int = 3):
    initial = list(variables or [])
    formset = forms.formset_factory(VariableForm, extra=spare, max_num=10 + spare, absolute_max=20)
    return formset(data, initial=initial, prefix="var")


class TemplateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=80)
    kind = forms.ChoiceField(label=_("Kind"), choices=MessageClass.choices)
    signature = forms.ChoiceField(label=_("Signature"))
    is_rich = forms.BooleanField(label=_("Rich (图文/MMS) template"), required=False)
    title = forms.CharField(label=_("Title (rich templates)"), max_length=40, required=False)
    body = forms.CharField(
        label=_("Message text"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Variables are written ${name}. The signature is added in front when sending."),
    )

    def __init__(self, *args, signatures=(), editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["signature"].choices = [
            (s.pk, f"【{s.name}】 {s.get_status_display()}")
            for s in signatures
            if s.status != Signature.Status.REJECTED
        ]
        if editing:
            for name in ("name", "kind", "is_rich"):
                del self.fields[name]


class SignatureForm(forms.Form):
    name = forms.CharField(
        label=_("Signature"),
        max_length=30,
        help_text=_("2–12 Chinese characters, letters or digits, without 【】 (the platform adds them)."),
    )
    kind = forms.ChoiceField(label=_("Type"), choices=Signature.Kind.choices)
    third_party = forms.BooleanField(label=_("It belongs to a third party (not our enterprise)"), required=False)
    proofs = MultipleFileField(
        label=_("Proof documents"),
        required=False,
        help_text=_("PDF, JPG or PNG, at most 5 MB each: licence, trademark certificate, app store page, ICP record…"),
    )
    authorisation = forms.FileField(label=_("Letter of authorisation (third party)"), required=False)


class ResubmitSignatureForm(forms.Form):
    proofs = MultipleFileField(label=_("New proof documents"), required=False)
    authorisation = forms.FileField(label=_("Letter of authorisation (third party)"), required=False)


class VerificationForm(forms.Form):
    company_name = forms.CharField(label=_("Company name (as on the licence)"), max_length=120)
    credit_code = forms.CharField(label=_("Unified social credit code"), max_length=30)
    licence = forms.FileField(
        label=_("Business licence"), required=False, help_text=_("PDF, JPG or PNG, at most 5 MB.")
    )
    registered_domains = forms.CharField(
        label=_("Registered domains"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line. Links in your templates must use these domains."),
    )


class DomainsForm(forms.Form):
    registered_domains = forms.CharField(
        label=_("Registered domains"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class FrameForm(forms.Form):
    kind = forms.ChoiceField(label=_("Frame"), choices=TemplateFrame.Kind.choices)
    text = forms.CharField(label=_("Text"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    image = forms.FileField(label=_("Image (JPG, PNG or GIF, at most 1 MB)"), required=False)


class RejectForm(forms.Form):
    reason_code = forms.ChoiceField(label=_("Reason"), choices=())
    reason_text = forms.CharField(label=_("Note to the tenant"), required=False, max_length=400)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason_code"].choices = [("", "—"), *REJECTION_REASONS.items()]


class SensitiveWordsForm(forms.Form):
    words = forms.CharField(
        label=_("Additional sensitive words for this tenant"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One per line."),
    )


class PlatformWordForm(forms.Form):
    word = forms.CharField(label=_("Word"), max_length=40)
