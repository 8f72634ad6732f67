"""Demo data. The foundation makes people and tenants; each app adds its part through an
optional `<app>.demo.seed(ctx)` that receives the DemoContext below (in PRODUCT_APPS order).

Idempotent: a second run finds the demo tenants and changes nothing. Passwords are random
per installation and kept in ./var/demo-logins.json (never committed), which `make demo` prints.
"""

from __future__ import annotations

import importlib
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction

from tenants import services
from tenants.models import Membership, Role, Tenant, User

LOGINS_FILE = Path(settings.VAR_DIR) / "demo-logins.json"
PRODUCT_APPS = [
    "templates",
    "compliance",
    "billing",
    "messaging",
    "messaging.smpp",
    "messaging.webhooks",
    "messaging.watch",
    "campaigns",
    "reports",
]

DEMO_TENANTS = [
    {
        "slug": "huamei-retail",
        "name": "华美零售集团",
        "contact_name": "李娜",
        "contact_email": "ops@huamei.example.cn",
        "contact_phone": "+8613800138000",
    },
    {
        "slug": "kuaida-logistics",
        "name": "快达物流",
        "contact_name": "王强",
        "contact_email": "it@kuaida.example.cn",
        "contact_phone": "+8613900139000",
    },
]

DEMO_PEOPLE = [
    # email, full name, tenant slug, role
    ("owner@huamei.example.cn", "李娜", "huamei-retail", Role.OWNER),
    ("operator@huamei.example.cn", "陈杰", "huamei-retail", Role.OPERATOR),
    ("finance@huamei.example.cn", "赵敏", "huamei-retail", Role.FINANCE),
    ("viewer@huamei.example.cn", "孙丽", "huamei-retail", Role.VIEWER),
    ("owner@kuaida.example.cn", "王强", "kuaida-logistics", Role.OWNER),
]
STAFF = [("reviewer@smsportal.example.cn", "周审核"), ("ops@smsportal.example.cn", "吴运维")]


@dataclass
class DemoContext:
    tenants: dict[str, Tenant] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    staff: list[User] = field(default_factory=list)
    logins: dict = field(default_factory=dict)


def _password() -> str:
    return "demo-" + secrets.token_urlsafe(9)


def _make_user(email: str, full_name: str, password: str, *, is_staff: bool = False) -> User:
    from allauth.account.models import EmailAddress

    user = User.objects.create_user(email=email, password=password, full_name=full_name, is_staff=is_staff)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def _enable_mfa(user: User) -> dict:
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    codes = RecoveryCodes.activate(user).get_unused_codes()
    return {"totp_secret": secret, "recovery_codes": codes}


@transaction.atomic
def _seed_people() -> DemoContext:
    ctx = DemoContext()
    logins: dict = {"people": [], "staff": []}
    for email, name in STAFF:
        password = _password()
        user = _make_user(email, name, password, is_staff=True)
        ctx.staff.append(user)
        logins["staff"].append({"email": email, "password": password, **_enable_mfa(user)})
    creators = {}
    for email, name, slug, role in DEMO_PEOPLE:
        password = _password()
        user = _make_user(email, name, password)
        ctx.users[email] = user
        logins["people"].append({"email": email, "password": password, "tenant": slug, "role": role})
        if slug not in ctx.tenants:
            spec = next(t for t in DEMO_TENANTS if t["slug"] == slug)
            ctx.tenants[slug] = services.tenant_create(
                actor=user,
                name=spec["name"],
                slug=slug,
                contact_name=spec["contact_name"],
                contact_email=spec["contact_email"],
                contact_phone=spec["contact_phone"],
            )
            creators[slug] = user
        else:
            Membership.objects.create(tenant=ctx.tenants[slug], user=user, role=role)
    ctx.logins = logins
    return ctx


def seed(stdout=None) -> bool:
    """Returns False when the demo already exists."""
    if Tenant.objects.filter(slug=DEMO_TENANTS[0]["slug"]).exists():
        return False
    ctx = _seed_people()
    for app in PRODUCT_APPS:
        try:
            module = importlib.import_module(f"{app}.demo")
        except ModuleNotFoundError as error:
            if error.name != f"{app}.demo":
                raise
            continue
        if stdout:
            stdout.write(f"  seeding {app}…")
        module.seed(ctx)
    LOGINS_FILE.parent.mkdir(parents=True, exist_ok=True)
    LOGINS_FILE.write_text(json.dumps(ctx.logins, ensure_ascii=False, indent=2), encoding="utf-8")
    LOGINS_FILE.chmod(0o600)
    return True
