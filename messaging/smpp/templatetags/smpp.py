"""{% load smpp %}{% smpp_bind_status channel %} — an SMPP channel's binds, for any channels page."""

from __future__ import annotations

from django import template

from messaging.smpp.selectors import bind_status, open_reviews_count

register = template.Library()


@register.inclusion_tag("smpp/_bind_status.html")
def smpp_bind_status(channel, detail: bool = False):
    if getattr(channel, "adapter", "") != "smpp":
        return {"show": False}
    return {
        "show": True,
        "channel_id": channel.pk,
        "status": bind_status(channel_id=channel.pk),
        "detail": detail,
        "reviews": open_reviews_count(channel_id=channel.pk) if detail else 0,
    }
