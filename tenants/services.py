"""Writes for tenants, members, invitations and API keys. Each is one transaction."""

from __future__ import annotations

import secrets
from datetime import timedelta
from zoneinfo import available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email, validate_slug
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from compliance.audit import audit_record
from smsportal.errors import Conflict, Forbidden, NotFound, ServiceError
from tenants.models import ApiKey, Invitation, Membership, Role, Tenant, User, hash_token

SLUG_RESERVED = {"admin", "api", "staff", "static", "media", "accounts", "new"}


def _require_staff(actor: User) -> None:
    if not getattr(actor, "is_staff", False):
        raise Forbidden("staff_only", _("Only platform staff can do this."))


def _text(value: str, *, field: str, max_length: int, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ServiceError("required", _("This field is required."), field=field)
    if len(value) > max_length:
        raise ServiceError("too_long", _("At most %(count)d characters.") % {"count": max_length}, field=field)
    return value


def _email(value: str, *, field: str) -> str:
    value = (value or "").strip().lower()
    try:
        validate_email(value)
    except ValidationError:
        raise ServiceError("bad_email", _("Enter a valid email address."), field=field) from None
    return value


@transaction.atomic
def tenant_create(
    *,
    actor: User,
    name: str,
    slug: str,
    contact_name: str,
    contact_email: str,
    contact_phone: str = "",
    timezone_name: str = settings.DEFAULT_TENANT_TIMEZONE,
) -> Tenant:
    slug = _text(slug, field="slug", max_length=50).lower()
    try:
        validate_slug(slug)
    except ValidationError:
        raise ServiceError(
            "bad_slug", _("Use only lower-case letters, digits, hyphens and underscores."), field="slug"
        ) from None
    name = _text(name, field="name", max_length=120)
    contact_name = _text(contact_name, field="contact_name", max_length=100)
    contact_email = _email(contact_email, field="contact_email")
    contact_phone = _text(contact_phone, field="contact_phone", max_length=32, required=False)
    if slug in SLUG_RESERVED:
        raise ServiceError("slug_reserved", _("This short name is reserved; choose another."), field="slug")
    if timezone_name not in available_timezones():
        raise ServiceError("bad_timezone", _("Unknown time zone."), field="timezone")
    if Tenant.objects.filter(slug=slug).exists():
        raise Conflict("slug_taken", _("This short name is already taken."), field="slug")
    try:
        with transaction.atomic():
            tenant = Tenant.objects.create(
                name=name,
                slug=slug,
                contact_name=contact_name,
                contact_email=contact_email,
                contact_phone=contact_phone,
                timezone=timezone_name,
            )
    except IntegrityError:
        raise Conflict("slug_taken", _("This short name is already taken."), field="slug") from None
    Membership.objects.create(tenant=tenant, user=actor, role=Role.OWNER)
    audit_record(
        tenant=tenant, actor=actor, action="tenant.created", obj=tenant, after={"name": tenant.name, "slug": slug}
    )
    return tenant


@transaction.atomic
def tenant_update(*, tenant: Tenant, actor: User, **fields) -> Tenant:
    allowed = {"name", "contact_name", "contact_email", "contact_phone", "timezone"}
    unknown = set(fields) - allowed
    if unknown:
        raise ServiceError("unknown_fields", _("These fields cannot be changed: %s") % ", ".join(sorted(unknown)))
    if "timezone" in fields and fields["timezone"] not in available_timezones():
        raise ServiceError("bad_timezone", _("Unknown time zone."), field="timezone")
    limits = {"name": 120, "contact_name": 100, "contact_phone": 32}
    for key, max_length in limits.items():
        if key in fields:
            fields[key] = _text(fields[key], field=key, max_length=max_length, required=key != "contact_phone")
    if "contact_email" in fields:
        fields["contact_email"] = _email(fields["contact_email"], field="contact_email")
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    before = {key: getattr(tenant, key) for key in fields}
    for key, value in fields.items():
        setattr(tenant, key, value)
    tenant.save()
    audit_record(tenant=tenant, actor=actor, action="tenant.updated", obj=tenant, before=before, after=fields)
    return tenant


@transaction.atomic
def tenant_suspend(*, tenant: Tenant, actor: User, reason: str) -> Tenant:
    _require_staff(actor)
    if not reason.strip():
        raise ServiceError("reason_required", _("Give a reason for the suspension."), field="reason")
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    tenant.status = Tenant.Status.SUSPENDED
    tenant.suspended_reason = reason.strip()
    tenant.suspended_at = timezone.now()
    tenant.save()
    audit_record(
        tenant=tenant, actor=actor, action="tenant.suspended", obj=tenant, after={"reason": tenant.suspended_reason}
    )
    return tenant


@transaction.atomic
def tenant_reactivate(*, tenant: Tenant, actor: User) -> Tenant:
    _require_staff(actor)
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    tenant.status = Tenant.Status.ACTIVE
    tenant.suspended_reason = ""
    tenant.suspended_at = None
    tenant.save()
    audit_record(tenant=tenant, actor=actor, action="tenant.reactivated", obj=tenant)
    return tenant


# --- Members and invitations ------------------------------------------------------------


@transaction.atomic
def invitation_create(*, tenant: Tenant, actor: User, email: str, role: str) -> tuple[Invitation, str]:
    email = _email(email, field="email")
    if role not in Role.values:
        raise ServiceError("bad_role", _("Unknown role."), field="role")
    if Membership.objects.for_tenant(tenant).filter(user__email__iexact=email).exists():
        raise Conflict("already_member", _("This person is already a member."), field="email")
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        tenant=tenant,
        email=email,
        role=role,
        token_hash=hash_token(token),
        invited_by=actor,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    audit_record(
        tenant=tenant, actor=actor, action="member.invited", obj=invitation, after={"email": email, "role": role}
    )
    link = settings.SITE_URL.rstrip("/") + reverse("tenants:invitation_accept", args=[token])
    body = render_to_string(
        "tenants/email/invitation.txt",
        {"tenant": tenant, "inviter": actor, "link": link, "days": settings.INVITATION_TTL_DAYS},
    )
    subject = _("You are invited to join %(tenant)s on smsportal") % {"tenant": tenant.name}
    transaction.on_commit(lambda: send_mail(subject, body, None, [email]))
    return invitation, token


def invitation_get_by_token(token: str) -> Invitation:
    invitation = Invitation.objects.select_related("tenant").filter(token_hash=hash_token(token)).first()
    if invitation is None or invitation.revoked_at is not None:
        raise NotFound("invitation_not_found", _("This invitation does not exist or was withdrawn."))
    if invitation.accepted_at is not None:
        raise Conflict("invitation_used", _("This invitation has already been used."))
    if invitation.expires_at <= timezone.now():
        raise ServiceError("invitation_expired", _("This invitation has expired; ask for a new one."), status=410)
    return invitation


@transaction.atomic
def invitation_accept(*, user: User, token: str) -> Membership:
    invitation = invitation_get_by_token(token)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise Conflict("invitation_used", _("This invitation has already been used."))
    if user.email.lower() != invitation.email.lower():
        raise Forbidden(
            "invitation_other_email",
            _("This invitation was sent to another email address. Sign in as %(email)s to accept it.")
            % {"email": invitation.email},
        )
    if Membership.objects.for_tenant(invitation.tenant).filter(user=user).exists():
        raise Conflict(
            "already_member",
            _("You are already a member of %(tenant)s.") % {"tenant": invitation.tenant.name},
        )
    membership = Membership.objects.create(tenant=invitation.tenant, user=user, role=invitation.role)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by", "updated_at"])
    audit_record(
        tenant=invitation.tenant, actor=user, action="member.joined", obj=membership, after={"role": membership.role}
    )
    return membership


@transaction.atomic
def invitation_revoke(*, tenant: Tenant, actor: User, invitation_id: int) -> None:
    invitation = Invitation.objects.for_tenant(tenant).select_for_update().filter(pk=invitation_id).first()
    if invitation is None:
        raise NotFound("not_found", _("Not found."))
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at", "updated_at"])
    audit_record(tenant=tenant, actor=actor, action="member.invitation_revoked", obj=invitation)


def _is_owner(members: list[Membership], actor: User) -> bool:
    return any(m.user_id == actor.pk and m.role == Role.OWNER for m in members)


def _locked_memberships(tenant: Tenant):
    # Lock every membership of the tenant so two concurrent demotions cannot both pass the
    # last-owner check.
    return list(Membership.objects.for_tenant(tenant).select_for_update().order_by("pk"))


@transaction.atomic
def membership_change_role(*, tenant: Tenant, actor: User, membership_id: int, role: str) -> Membership:
    if role not in Role.values:
        raise ServiceError("bad_role", _("Unknown role."), field="role")
    members = _locked_memberships(tenant)
    membership = next((m for m in members if m.pk == membership_id), None)
    if membership is None:
        raise NotFound("not_found", _("Not found."))
    owners = [m for m in members if m.role == Role.OWNER]
    if membership.role == Role.OWNER and role != Role.OWNER and len(owners) == 1:
        raise ServiceError(
            "last_owner", _("The last owner cannot be demoted. Make someone else owner first."), field="role"
        )
    if Role.OWNER in (role, membership.role) and not _is_owner(members, actor):
        raise Forbidden("owner_only", _("Only an owner can make someone an owner or change an owner's role."))
    before = {"role": membership.role}
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    audit_record(
        tenant=tenant, actor=actor, action="member.role_changed", obj=membership, before=before, after={"role": role}
    )
    return membership


@transaction.atomic
def membership_remove(*, tenant: Tenant, actor: User, membership_id: int) -> None:
    members = _locked_memberships(tenant)
    membership = next((m for m in members if m.pk == membership_id), None)
    if membership is None:
        raise NotFound("not_found", _("Not found."))
    if membership.role == Role.OWNER and sum(1 for m in members if m.role == Role.OWNER) == 1:
        raise ServiceError("last_owner", _("The last owner cannot be removed."))
    if membership.role == Role.OWNER and not _is_owner(members, actor):
        raise Forbidden("owner_only", _("Only an owner can remove an owner."))
    audit_record(
        tenant=tenant,
        actor=actor,
        action="member.removed",
        obj=membership,
        before={"user": membership.user.email, "role": membership.role},
    )
    membership.delete()


# --- API keys --------------------------------------------------------------------------


def _key_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ServiceError("name_required", _("Give the key a name."), field="name")
    if len(name) > 80:
        raise ServiceError("too_long", _("At most %(count)d characters.") % {"count": 80}, field="name")
    return name


def _new_key_material() -> tuple[str, str, str]:
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    raw = f"{settings.API_KEY_PREFIX}{prefix}_{secret}"
    return prefix, raw, hash_token(raw)


@transaction.atomic
def apikey_create(*, tenant: Tenant, actor: User, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
    name = _key_name(name)
    scopes = sorted(set(scopes))
    if not scopes:
        raise ServiceError("scopes_required", _("Choose at least one scope."), field="scopes")
    unknown = set(scopes) - set(ApiKey.Scope.values)
    if unknown:
        raise ServiceError("bad_scope", _("Unknown scope: %s") % ", ".join(sorted(unknown)), field="scopes")
    prefix, raw, digest = _new_key_material()
    key = ApiKey.objects.create(
        tenant=tenant, name=name, prefix=prefix, secret_hash=digest, scopes=scopes, created_by=actor
    )
    audit_record(tenant=tenant, actor=actor, action="apikey.created", obj=key, after={"name": name, "scopes": scopes})
    return key, raw


@transaction.atomic
def apikey_rename(*, tenant: Tenant, actor: User, key_id: int, name: str) -> ApiKey:
    key = ApiKey.objects.for_tenant(tenant).select_for_update().filter(pk=key_id).first()
    if key is None:
        raise NotFound("not_found", _("Not found."))
    name = _key_name(name)
    before = {"name": key.name}
    key.name = name
    key.save(update_fields=["name", "updated_at"])
    audit_record(tenant=tenant, actor=actor, action="apikey.renamed", obj=key, before=before, after={"name": key.name})
    return key


@transaction.atomic
def apikey_revoke(*, tenant: Tenant, actor: User, key_id: int) -> ApiKey:
    key = ApiKey.objects.for_tenant(tenant).select_for_update().filter(pk=key_id).first()
    if key is None:
        raise NotFound("not_found", _("Not found."))
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.revoked_by = actor
        key.save(update_fields=["revoked_at", "revoked_by", "updated_at"])
        audit_record(tenant=tenant, actor=actor, action="apikey.revoked", obj=key)
    return key
