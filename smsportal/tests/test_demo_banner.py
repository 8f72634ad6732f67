import json
from io import StringIO

from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.core.management import call_command

from smsportal import demo
from smsportal.factories import UserFactory
from smsportal.factories.tenants import DEFAULT_PASSWORD


def test_banner_shows_only_unused_recovery_codes_from_the_database(db, tmp_path, monkeypatch):
    staff = UserFactory(email="ops@smsportal.example.cn", is_staff=True)
    TOTP.activate(staff, "JBSWY3DPEHPK3PXP")
    codes = RecoveryCodes.activate(staff).get_unused_codes()
    authenticator = Authenticator.objects.get(user=staff, type=Authenticator.Type.RECOVERY_CODES)
    assert RecoveryCodes(authenticator).validate_code(codes[0])  # used to sign in once

    logins = tmp_path / "demo-logins.json"
    logins.write_text(
        json.dumps(
            {
                "people": [{"email": "owner@x.cn", "password": "pw-1", "tenant": "x", "role": "owner"}],
                "staff": [
                    {
                        "email": staff.email,
                        "password": DEFAULT_PASSWORD,
                        "totp_secret": "JBSWY3DPEHPK3PXP",
                        "recovery_codes": codes,  # the file still lists the used one
                    }
                ],
            }
        )
    )
    monkeypatch.setattr(demo, "LOGINS_FILE", logins)
    out = StringIO()
    call_command("demo_banner", stdout=out)
    text = out.getvalue()
    assert "owner@x.cn" in text and "pw-1" in text
    assert "JBSWY3DPEHPK3PXP" in text
    assert codes[1] in text and codes[-1] in text
    assert codes[0] not in text


def test_banner_without_logins_file_says_how_to_seed(db, tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "LOGINS_FILE", tmp_path / "missing.json")
    out = StringIO()
    call_command("demo_banner", stdout=out)
    assert "make seed" in out.getvalue()
