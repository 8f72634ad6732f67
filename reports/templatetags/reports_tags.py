from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _

from smsportal.enums import MessageClass

register = template.Library()


@register.filter
def pct(value):
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:.2f}%"


@register.filter
def seconds(value):
    return "—" if value is None else f"{value:.2f} s"


@register.filter
def class_label(value):
    return dict(MessageClass.choices).get(value, value)


@register.simple_tag
def benchmark(value, target):
    if value is None:
        return "—"
    if value >= target:
        return format_html('<span class="ok badge">{}</span>', _("meets"))
    return format_html('<span class="bad badge">{}</span>', _("below"))


@register.simple_tag
def change(value):
    if value is None:
        return ""
    arrow = "▲" if value >= 0 else "▼"
    return format_html('<div class="muted">{} {}% {}</div>', arrow, f"{abs(value) * 100:.1f}", _("vs last month"))


@register.simple_tag
def points(value):
    if value is None:
        return ""
    arrow = "▲" if value >= 0 else "▼"
    return format_html('<div class="muted">{} {} {}</div>', arrow, f"{abs(value):.2f}", _("points vs last month"))
