import json

from django.conf import settings
from django.core.management.base import BaseCommand

from smsportal.demo import LOGINS_FILE


class Command(BaseCommand):
    help = "Prints the demo URL and logins (from ./var/demo-logins.json)."

    def handle(self, *args, **options):
        url = settings.SITE_URL
        out = self.stdout.write
        out("")
        out("=" * 72)
        out(f" smsportal demo: {url}/   (API docs: {url}/api/docs/)")
        out("=" * 72)
        if not LOGINS_FILE.exists():
            out(" No demo logins found; run `make seed` on an empty database.")
            return
        logins = json.loads(LOGINS_FILE.read_text(encoding="utf-8"))
        out(" Tenant users (email / password / tenant / role):")
        for person in logins["people"]:
            out(f"   {person['email']:<32} {person['password']:<20} {person['tenant']:<18} {person['role']}")
        out("")
        out(" Platform staff (two-factor required). Add the TOTP secret to an authenticator app,")
        out(" or use one of the recovery codes once each:")
        for staff in logins["staff"]:
            out(f"   {staff['email']:<32} {staff['password']}")
            out(f"     TOTP secret:    {staff['totp_secret']}")
            out(f"     recovery codes: {' '.join(staff['recovery_codes'])}")
        out("")
        out(" Ctrl-C stops the web server, both django-q2 clusters and the embedded database.")
        out("=" * 72)
