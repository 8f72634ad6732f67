"""The product's shared vocabulary: message classes, carriers, statuses and failure reasons."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class MessageClass(models.TextChoices):
    """Also the template kinds. Alerts and codes travel on the `urgent` lane."""

    VERIFICATION = "verification", _("Verification code")
    NOTIFICATION = "notification", _("Notification")
    MARKETING = "marketing", _("Marketing")
    ALERT = "alert", _("Alert")


URGENT_CLASSES = frozenset({MessageClass.VERIFICATION, MessageClass.ALERT})

# Arrival targets in seconds, by class (the provider-selection guide's 1 s / 3 s / 5 s).
ARRIVAL_TARGET_SECONDS = {
    MessageClass.ALERT: 1,
    MessageClass.VERIFICATION: 3,
    MessageClass.NOTIFICATION: 5,
    MessageClass.MARKETING: 5,
}


class Carrier(models.TextChoices):
    MOBILE = "mobile", _("China Mobile")
    UNICOM = "unicom", _("China Unicom")
    TELECOM = "telecom", _("China Telecom")
    BROADNET = "broadnet", _("China Broadnet")
    UNKNOWN = "unknown", _("Unknown carrier")


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SUBMITTING = "submitting", _("Submitting")
    SUBMITTED = "submitted", _("Submitted")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")
    REJECTED = "rejected", _("Rejected")


FINAL_STATUSES = frozenset(
    {MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.EXPIRED, MessageStatus.REJECTED}
)


class FailureReason(models.TextChoices):
    """The fixed taxonomy every channel's raw codes map onto."""

    VACANT_NUMBER = "vacant_number", _("Vacant number")
    UNREACHABLE = "unreachable", _("Power off or unreachable")
    CARRIER_BLACKLIST = "carrier_blacklist", _("Blacklisted by carrier")
    CONTENT_BLOCKED = "content_blocked", _("Content blocked")
    SUPPRESSED = "suppressed", _("Suppressed (opted out or complained)")
    NO_CONSENT = "no_consent", _("No marketing consent")
    MARKETING_PAUSED = "marketing_paused", _("Marketing paused after complaints")
    RATE_LIMITED = "rate_limited", _("Frequency cap reached")
    INVALID_NUMBER = "invalid_number", _("Invalid number")
    INSUFFICIENT_BALANCE = "insufficient_balance", _("Insufficient balance")
    TEMPLATE_NOT_APPROVED = "template_not_approved", _("Template not approved")
    NO_ROUTE = "no_route", _("No channel available")
    CHANNEL_ERROR = "channel_error", _("Channel error")
    THROTTLED = "throttled", _("Throttled by channel")
    EXPIRED = "expired", _("No receipt in time (expired)")
    QUIET_HOURS = "quiet_hours", _("Outside allowed sending hours")
    CANCELLED = "cancelled", _("Cancelled")
    UNKNOWN = "unknown", _("Unknown error")
