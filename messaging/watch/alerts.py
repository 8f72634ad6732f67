"""Telling operators: an email to every active staff member and a JSON POST to the on-call
tool (ONCALL_WEBHOOK_URL). Each outcome is recorded on the incident."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from urllib.parse import urlparse

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from messaging.watch.models import Incident
from messaging.webhooks import signing

logger = logging.getLogger(__name__)


def incident_document(incident: Incident, event: str) -> dict:
    return {
        "event": event,  # incident.opened | incident.overdue | incident.resolved
        "incident": {
            "id": incident.id,
            "kind": incident.kind,
            "subject": incident.subject,
            "summary": incident.summary,
            "channel_id": incident.channel_id,
            "lane": incident.lane,
            "message_class": incident.message_class,
            "started_at": incident.started_at.isoformat(),
            "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
            "details": incident.details,
            "url": settings.SITE_URL.rstrip("/") + reverse("messaging_staff:incidents"),
        },
    }


def _email(incident: Incident, event: str) -> dict:
    from tenants.models import User

    recipients = list(User.objects.filter(is_staff=True, is_active=True).values_list("email", flat=True))
    if not recipients:
        return {"via": "email", "ok": False, "detail": "no staff recipients"}
    with translation.override(settings.LANGUAGE_CODE):
        context = {
            "incident": incident,
            "event": event,
            "incidents_url": settings.SITE_URL.rstrip("/") + reverse("messaging_staff:incidents"),
        }
        subject = render_to_string("watch/email/incident_subject.txt", context).strip()
        body = render_to_string("watch/email/incident.txt", context)
    try:
        send_mail(subject, body, None, recipients)
    except Exception as error:  # SMTP trouble must not stop the watch
        logger.warning("incident email failed: %s", error)
        return {"via": "email", "ok": False, "detail": str(error)[:200]}
    return {"via": "email", "ok": True, "detail": f"{len(recipients)} recipients"}


def _oncall(incident: Incident, event: str) -> dict | None:
    url = getattr(settings, "ONCALL_WEBHOOK_URL", "")
    if not url:
        return None
    if urlparse(url).scheme not in ("http", "https"):
        return {"via": "webhook", "ok": False, "detail": "ONCALL_WEBHOOK_URL must be http(s)"}
    body = json.dumps(incident_document(incident, event), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "smsportal-watch/1.0"}
    secret = getattr(settings, "ONCALL_WEBHOOK_SECRET", "")
    if secret:
        headers[signing.SIGNATURE_HEADER] = signing.signature_header(body, [secret])
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310 - checked above
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, OSError, ValueError) as error:
        return {"via": "webhook", "ok": False, "detail": f"{type(error).__name__}: {error}"[:200]}
    ok = 200 <= status < 300
    return {"via": "webhook", "ok": ok, "detail": f"HTTP {status} in {int((time.monotonic() - started) * 1000)} ms"}


def notify(incident: Incident, event: str) -> list[dict]:
    outcomes = [_email(incident, event)]
    oncall = _oncall(incident, event)
    if oncall:
        outcomes.append(oncall)
    at = timezone.now().isoformat()
    for outcome in outcomes:
        outcome.update({"event": event, "at": at})
    return outcomes
