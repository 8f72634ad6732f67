"""What each failure reason means and what the tenant can do about it."""

from django.utils.translation import gettext_lazy as _

from smsportal.enums import FailureReason as R

EXPLANATIONS: dict[str, tuple[str, str]] = {
    R.VACANT_NUMBER: (
        _("The number does not exist or was cancelled."),
        _("Clean your lists: remove numbers that fail as vacant."),
    ),
    R.UNREACHABLE: (
        _("The phone was off or out of coverage until the message expired."),
        _("Usually temporary; resend later only if the message is still useful."),
    ),
    R.CARRIER_BLACKLIST: (
        _("The carrier refuses this number (complaints or opt-out at the carrier)."),
        _("Send marketing only with consent, and honour unsubscribe replies at once."),
    ),
    R.CONTENT_BLOCKED: (
        _("A carrier filter blocked the text."),
        _("Rephrase the template: see which template and words in the advice section."),
    ),
    R.SUPPRESSED: (
        _("The person opted out or complained, so we did not send."),
        _("Nothing to do: this protects you from complaints."),
    ),
    R.NO_CONSENT: (
        _("Marketing without a recorded consent was not sent."),
        _("Record consent (web form, app, paper or import) before sending marketing."),
    ),
    R.RATE_LIMITED: (
        _("Too many messages to one number in a short time."),
        _("Check for loops in your integration; codes are capped per minute, hour and day."),
    ),
    R.INVALID_NUMBER: (_("The number is not a valid mobile number."), _("Validate numbers where you collect them.")),
    R.INSUFFICIENT_BALANCE: (
        _("The balance was too low when the message was sent."),
        _("Top up, or set a low-balance alert threshold."),
    ),
    R.TEMPLATE_NOT_APPROVED: (_("The template was not approved."), _("Submit the template for review first.")),
    R.NO_ROUTE: (_("No channel could take the message."), _("Ours to fix; we are alerted automatically.")),
    R.CHANNEL_ERROR: (_("The channel reported an error."), _("Ours to fix; traffic moves to other channels.")),
    R.THROTTLED: (_("The channel asked us to slow down."), _("Ours to handle; the message was retried.")),
    R.EXPIRED: (
        _("No delivery receipt arrived in time."),
        _("Often a phone off for long; if frequent for one carrier, tell support."),
    ),
    R.QUIET_HOURS: (_("Held outside the allowed sending hours."), _("Schedule marketing inside the window.")),
    R.CANCELLED: (_("The campaign was cancelled before this message was sent."), _("Nothing to do.")),
    R.UNKNOWN: (_("The carrier gave no usable reason."), _("If frequent, tell support with a few message ids.")),
}


def explain(reason: str) -> tuple[str, str]:
    return EXPLANATIONS.get(reason, EXPLANATIONS[R.UNKNOWN])
