"""The one base class for tenant-scoped API views.

It owns get_queryset: the queryset is always `model.objects.for_tenant(<key's tenant>)`.
Subclasses narrow it with `filter_queryset_for_view` and cannot replace it — defining
get_queryset in a subclass is a TypeError at import time.
"""

from __future__ import annotations

from rest_framework import generics, viewsets

from tenants.permissions import HasScope


class TenantScopedMixin:
    model = None
    permission_classes = [HasScope]
    required_scopes: dict[str, str] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise TypeError(f"{cls.__name__} must not override get_queryset; use filter_queryset_for_view")

    @property
    def tenant(self):
        return self.request.user.tenant

    @property
    def actor(self):
        return self.request.user

    def get_queryset(self):
        return self.filter_queryset_for_view(self.model.objects.for_tenant(self.tenant))

    def filter_queryset_for_view(self, queryset):
        return queryset


class TenantAPIView(TenantScopedMixin, generics.GenericAPIView):
    pass


class TenantViewSet(TenantScopedMixin, viewsets.GenericViewSet):
    pass
