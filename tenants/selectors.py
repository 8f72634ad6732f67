from __future__ import annotations

from django.db.models import QuerySet

from tenants.models import ApiKey, Invitation, Membership, Tenant, User


def memberships_of_user(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("tenant").order_by("tenant__name")


def membership_list(*, tenant: Tenant) -> QuerySet[Membership]:
    return Membership.objects.for_tenant(tenant).select_related("user").order_by("created_at")


def invitation_list_pending(*, tenant: Tenant) -> QuerySet[Invitation]:
    from django.utils import timezone

    return Invitation.objects.for_tenant(tenant).filter(
        accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    )


def apikey_list(*, tenant: Tenant) -> QuerySet[ApiKey]:
    return ApiKey.objects.for_tenant(tenant).select_related("created_by")


def tenant_list_for_staff() -> QuerySet[Tenant]:
    return Tenant.objects.all().order_by("name")
