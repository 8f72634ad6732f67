"""The "smpp" adapter's settings (Channel.settings JSON): schema, defaults and validation.

The password is write-only: the channel forms show it masked (messaging.adapters.base
.mask_secrets), and `merge_settings` keeps the stored one when an edit leaves it blank. It may
also come from the environment (`password_env`: the name of a variable), so production secrets
need not live in the database.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from smsportal.enums import FailureReason
from smsportal.errors import ServiceError

BIND_TRANSCEIVER = "transceiver"
BIND_TX_RX = "transmitter_receiver"
BIND_MODES = (BIND_TRANSCEIVER, BIND_TX_RX)
CONCATENATION = ("udh", "sar")
DATA_CODINGS = ("auto", "ucs2")  # auto: GSM-7 where the text allows it, otherwise UCS-2
NUMBER_FORMATS = ("international", "national", "e164")
RECEIPT_ID_FORMATS = ("same", "receipt_decimal", "receipt_hex")

DEFAULTS = {
    "port": 2775,
    "system_type": "",
    "bind_mode": BIND_TRANSCEIVER,
    "binds": 1,
    "window": 10,
    "source_addr": "",
    "source_addr_ton": 0,
    "source_addr_npi": 0,
    "extensions": {},
    "signature_extensions": {},
    "data_coding": "auto",
    "gsm7_packed": False,
    "concatenation": "udh",
    "tls": False,
    "tls_verify": True,
    "number_format": "international",
    "enquire_link_seconds": 30,
    "response_timeout_seconds": 10,
    "dedupe_resubmissions": False,
    "receipt_id_format": "same",
    "error_map": {},
    "reply_parts_timeout_seconds": 300,
}

FIELD_HELP = {
    "host": "SMSC host name or address",
    "port": "TCP port (2775 plain, often 3550 with TLS)",
    "system_id": "account (system_id), at most 15 characters",
    "password": "password, at most 8 characters (write-only)",
    "password_env": "or: name of an environment variable holding the password",
    "system_type": "system_type, if the carrier asks for one",
    "bind_mode": "transceiver, or transmitter_receiver (one TX and one RX bind per session)",
    "binds": "number of sessions (1-16)",
    "window": "outstanding submit_sm per session (1-256, usually 10-64)",
    "source_addr": "sender number (e.g. 1069xxxx)",
    "extensions": "extension appended to source_addr per tenant id, so replies can be matched",
    "signature_extensions": "further digits per signature id, appended after the tenant's extension",
    "data_coding": "auto (GSM-7 where possible, otherwise UCS-2) or ucs2",
    "gsm7_packed": "pack GSM-7 septets (most SMSCs want one septet per octet)",
    "concatenation": "udh (8-bit reference) or sar (TLVs)",
    "tls": "connect with TLS",
    "number_format": "international (8613800138000), national (13800138000) or e164 (+86…)",
    "dedupe_resubmissions": "the SMSC recognises our message id (TLV 0x1401) and ignores resubmissions",
    "receipt_id_format": "same, receipt_decimal or receipt_hex (when receipts spell ids differently)",
    "error_map": 'raw receipt code → failure reason, e.g. {"UNDELIV:001": "vacant_number"}',
    "reply_parts_timeout_seconds": "a long reply missing parts this long is passed on as it is (10-3600)",
}


@dataclass(frozen=True)
class SmppSettings:
    host: str
    port: int
    system_id: str
    password: str = field(repr=False)
    system_type: str = ""
    bind_mode: str = BIND_TRANSCEIVER
    binds: int = 1
    window: int = 10
    source_addr: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    extensions: dict = field(default_factory=dict)
    signature_extensions: dict = field(default_factory=dict)
    data_coding: str = "auto"
    gsm7_packed: bool = False
    concatenation: str = "udh"
    tls: bool = False
    tls_verify: bool = True
    number_format: str = "international"
    enquire_link_seconds: float = 30
    response_timeout_seconds: float = 10
    dedupe_resubmissions: bool = False
    receipt_id_format: str = "same"
    error_map: dict = field(default_factory=dict)
    reply_parts_timeout_seconds: int = 300

    def source_for(self, tenant_id: int | None, signature_id: int | None = None) -> str:
        """Our sender number for a tenant (and signature): source_addr + extensions."""
        extension = self.extensions.get(str(tenant_id), "") if tenant_id is not None else ""
        if signature_id is not None:
            extension += self.signature_extensions.get(str(signature_id), "")
        return f"{self.source_addr}{extension}"

    def tenant_for_destination(self, destination: str) -> tuple[int | None, str]:
        """Which tenant a reply to `destination` (our source address + extension) belongs to,
        and the whole extension (the tenant's, then any signature digits)."""
        if not destination.startswith(self.source_addr):
            return None, ""
        extension = destination[len(self.source_addr) :]
        matches = [
            (len(ext), tenant_id) for tenant_id, ext in self.extensions.items() if ext and extension.startswith(ext)
        ]
        if not matches:
            return None, extension
        return int(max(matches)[1]), extension

    def destination_for(self, e164: str) -> str:
        digits = e164.lstrip("+")
        if self.number_format == "e164":
            return "+" + digits
        if self.number_format == "national" and digits.startswith("86"):
            return digits[2:]
        return digits

    @property
    def dest_addr_ton(self) -> int:
        return 2 if self.number_format == "national" else 1


def _int_in(errors: dict, data: dict, name: str, low: int, high: int) -> int | None:
    value = data.get(name, DEFAULTS.get(name))
    if isinstance(value, bool) or not isinstance(value, int | str):
        errors.setdefault(name, []).append(_("Enter a whole number."))
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        errors.setdefault(name, []).append(_("Enter a whole number."))
        return None
    if not low <= number <= high:
        errors.setdefault(name, []).append(_("Must be between %(low)s and %(high)s.") % {"low": low, "high": high})
        return None
    return number


def validate_settings(data: dict) -> dict[str, list[str]]:
    """Field errors of an SMPP channel's settings (empty when they are fine)."""
    errors: dict[str, list[str]] = {}
    if not isinstance(data, dict):
        return {"settings": [_("Settings must be an object.")]}
    for name in ("host", "system_id"):
        if not str(data.get(name, "")).strip():
            errors.setdefault(name, []).append(_("This field is required."))
    if len(str(data.get("system_id", ""))) > 15:
        errors.setdefault("system_id", []).append(_("At most 15 characters."))
    if not data.get("password") and not data.get("password_env"):
        errors.setdefault("password", []).append(_("Enter a password or the name of an environment variable."))
    if len(str(data.get("password", ""))) > 8:
        errors.setdefault("password", []).append(_("At most 8 characters."))
    if len(str(data.get("system_type", ""))) > 12:
        errors.setdefault("system_type", []).append(_("At most 12 characters."))
    _int_in(errors, data, "port", 1, 65535)
    _int_in(errors, data, "binds", 1, 16)
    _int_in(errors, data, "window", 1, 256)
    _int_in(errors, data, "enquire_link_seconds", 1, 600)
    _int_in(errors, data, "response_timeout_seconds", 1, 120)
    _int_in(errors, data, "source_addr_ton", 0, 6)
    _int_in(errors, data, "source_addr_npi", 0, 18)
    _int_in(errors, data, "reply_parts_timeout_seconds", 10, 3600)
    choices = {
        "bind_mode": BIND_MODES,
        "concatenation": CONCATENATION,
        "data_coding": DATA_CODINGS,
        "number_format": NUMBER_FORMATS,
        "receipt_id_format": RECEIPT_ID_FORMATS,
    }
    for name, allowed in choices.items():
        if data.get(name, DEFAULTS[name]) not in allowed:
            errors.setdefault(name, []).append(_("Choose one of: %(choices)s.") % {"choices": ", ".join(allowed)})
    source = str(data.get("source_addr", ""))
    extensions = data.get("extensions", {})
    if not isinstance(extensions, dict):
        errors.setdefault("extensions", []).append(_("Extensions must map tenant ids to digits."))
    else:
        for tenant_id, extension in extensions.items():
            if not str(tenant_id).isdigit() or not str(extension).isdigit():
                errors.setdefault("extensions", []).append(_("Extensions must map tenant ids to digits."))
                break
            if len(source) + len(str(extension)) > 20:
                errors.setdefault("extensions", []).append(_("Source address with extension exceeds 20 digits."))
                break
        values = [str(ext) for ext in extensions.values()]
        if len(values) != len(set(values)):
            errors.setdefault("extensions", []).append(_("Each tenant needs its own extension."))
    signature_extensions = data.get("signature_extensions", {})
    if not isinstance(signature_extensions, dict) or not all(
        str(key).isdigit() and str(value).isdigit() for key, value in signature_extensions.items()
    ):
        errors.setdefault("signature_extensions", []).append(_("Extensions must map signature ids to digits."))
    elif isinstance(extensions, dict):
        longest = max((len(str(v)) for v in extensions.values()), default=0)
        longest += max((len(str(v)) for v in signature_extensions.values()), default=0)
        if len(source) + longest > 20:
            errors.setdefault("signature_extensions", []).append(_("Source address with extension exceeds 20 digits."))
    if len(source) > 20:
        errors.setdefault("source_addr", []).append(_("At most 20 characters."))
    error_map = data.get("error_map", {})
    valid_reasons = set(FailureReason.values)
    if not isinstance(error_map, dict) or any(value not in valid_reasons for value in error_map.values()):
        errors.setdefault("error_map", []).append(_("Each raw code must map to a known failure reason."))
    for name in ("gsm7_packed", "tls", "tls_verify", "dedupe_resubmissions"):
        if name in data and not isinstance(data[name], bool):
            errors.setdefault(name, []).append(_("Must be true or false."))
    unknown = set(data) - set(DEFAULTS) - {"host", "system_id", "password", "password_env"}
    if unknown:
        names = ", ".join(sorted(unknown))
        errors.setdefault("settings", []).append(_("Unknown settings: %(names)s.") % {"names": names})
    return errors


def parse_settings(data: dict) -> SmppSettings:
    """Validated settings → SmppSettings; raises ServiceError("invalid_settings") otherwise."""
    errors = validate_settings(data)
    if errors:
        raise ServiceError("invalid_settings", _("The SMPP settings are not valid."), fields=errors, status=422)
    merged = {**DEFAULTS, **data}
    password = merged.pop("password", "") or os.environ.get(merged.get("password_env", ""), "")
    merged.pop("password_env", None)
    for name in ("port", "binds", "window", "source_addr_ton", "source_addr_npi", "reply_parts_timeout_seconds"):
        merged[name] = int(merged[name])
    merged["extensions"] = {str(key): str(value) for key, value in merged["extensions"].items()}
    merged["signature_extensions"] = {str(k): str(v) for k, v in merged["signature_extensions"].items()}
    return SmppSettings(password=password, **merged)


def merge_settings(stored: dict, submitted: dict) -> dict:
    """An edit that leaves the password blank keeps the stored one (write-only secret)."""
    merged = {**stored, **submitted}
    if not submitted.get("password") and stored.get("password"):
        merged["password"] = stored["password"]
    return merged
