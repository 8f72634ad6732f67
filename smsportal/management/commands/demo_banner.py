"""Prints the demo URL and logins. Passwords and TOTP secrets come from ./var/demo-logins.json
(only hashes are in the database); recovery codes are read from the database, so a code used
to sign in is no longer offered."""

import json

from django.conf import settings
from django.core.management.base import BaseCommand

from smsportal import demo


def unused_recovery_codes(email: str) -> list[str] | None:
    """The staff member's unused recovery codes, or None when they have none set up."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    authenticator = Authenticator.objects.filter(
        user__email__iexact=email, type=Authenticator.Type.RECOVERY_CODES
    ).first()
    if authenticator is None:
        return None
    return RecoveryCodes(authenticator).get_unused_codes()


class Command(BaseCommand):
    help = "Prints the demo URL and logins (passwords from ./var/demo-logins.json, recovery codes from the database)."

    def handle(self, *args, **options):
        url = settings.SITE_URL.rstrip("/")
        out = self.stdout.write
        out("")
        out("=" * 72)
        out(f" smsportal demo: {url}/   (API docs: {url}/api/docs/)")
        out("=" * 72)
        if not demo.LOGINS_FILE.exists():
            out(" No demo logins found; run `make seed` on an empty database.")
            return
        logins = json.loads(demo.LOGINS_FILE.read_text(encoding="utf-8"))
        out(" Tenant users (email / password / tenant / role):")
        for person in logins["people"]:
            out(f"   {person['email']:<32} {person['password']:<20} {person['tenant']:<18} {person['role']}")
        out("")
        out(" Platform staff (two-factor required). Add the TOTP secret to an authenticator app,")
        out(" or use one of the recovery codes once each:")
        for staff in logins["staff"]:
            codes = unused_recovery_codes(staff["email"])
            out(f"   {staff['email']:<32} {staff['password']}")
            out(f"     TOTP secret:    {staff['totp_secret']}")
            if codes is None:
                out("     recovery codes: none set up")
            else:
                out(f"     recovery codes: {' '.join(codes) or 'all used; generate new ones under Account'}")
        out("")
        out(" Ctrl-C stops the web server, both django-q2 clusters and the embedded database.")
        out("=" * 72)
