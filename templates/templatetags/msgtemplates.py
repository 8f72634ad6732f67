"""Showing rule findings: messages in the reader's language, spans highlighted in the body."""

from __future__ import annotations

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

register = template.Library()


def _zh() -> bool:
    return (get_language() or "zh").lower().startswith("zh")


@register.filter
def localized(value):
    """{"zh": ..., "en": ...} → the string for the current language."""
    if isinstance(value, dict):
        return value.get("zh" if _zh() else "en") or value.get("zh") or ""
    return value or ""


@register.filter
def highlight(body: str, findings) -> str:
    """The body, escaped, with every finding's spans wrapped in <mark> (block or warn)."""
    body = body or ""
    marks: list[tuple[int, int, str]] = []
    for finding in findings or []:
        for span in finding.get("spans") or []:
            start, end = int(span[0]), int(span[1])
            if 0 <= start < end <= len(body):
                marks.append((start, end, finding.get("severity", "warn")))
    marks.sort()
    out, last = [], 0
    for start, end, severity in marks:
        if start < last:
            continue
        out.append(escape(body[last:start]))
        out.append(f'<mark class="finding-{escape(severity)}">{escape(body[start:end])}</mark>')
        last = end
    out.append(escape(body[last:]))
    return mark_safe("".join(out))  # noqa: S308 - every piece is escaped above


@register.filter
def yuan(value) -> str:
    if value is None:
        return "—"
    return f"¥{value:.4f}".rstrip("0").rstrip(".") if value else "¥0"
