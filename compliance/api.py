"""REST API: consent (record, revoke, list per number), suppression (add, remove, check,
list), complaints (list for tenants; record for platform staff, see tenants/api_staff.py).
Inbound replies are listed by the messaging API."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from compliance import gates, selectors, services
from compliance.models import (
    Complaint,
    ComplaintSource,
    ConsentRecord,
    ConsentSource,
    Purpose,
    Suppression,
    SuppressionReason,
    SuppressionScope,
)
from smsportal.enums import MessageClass
from smsportal.errors import Unprocessable
from smsportal.numbers import InvalidNumber, normalize
from tenants.api_base import TenantAPIView
from tenants.api_staff import StaffAPIView


def _client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


def _number_param(request, *, required: bool) -> str | None:
    raw = request.query_params.get("number", "").strip()
    if not raw:
        if required:
            raise serializers.ValidationError({"number": ["This parameter is required."]})
        return None
    try:
        return normalize(raw).e164
    except InvalidNumber as error:
        raise Unprocessable("invalid_number", error.message, field="number") from None


# --- Serializers (shapes only; the services decide) ---------------------------------------


class ConsentSerializer(serializers.ModelSerializer):
    recorded_by = serializers.CharField(source="recorded_by_label", read_only=True)

    class Meta:
        model = ConsentRecord
        fields = [
            "id",
            "number",
            "carrier",
            "province",
            "purpose",
            "action",
            "occurred_at",
            "source",
            "evidence_text",
            "evidence_url",
            "recorded_by",
            "created_at",
        ]


class ConsentInSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=32)
    purpose = serializers.CharField(max_length=20)  # checked by the service: unknown_purpose
    source = serializers.ChoiceField(choices=ConsentSource.choices, default=ConsentSource.API)
    occurred_at = serializers.DateTimeField(required=False, allow_null=True)
    evidence_text = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)
    evidence_url = serializers.URLField(required=False, allow_blank=True, default="", max_length=500)


class RevokeInSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=32)
    purpose = serializers.CharField(max_length=20)
    occurred_at = serializers.DateTimeField(required=False, allow_null=True)
    evidence_text = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)


class SuppressionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Suppression
        fields = ["id", "number", "reason", "scope", "note", "created_at", "removed_at"]


class SuppressionInSerializer(serializers.Serializer):
    numbers = serializers.ListField(child=serializers.CharField(max_length=32), min_length=1, max_length=10_000)
    reason = serializers.ChoiceField(choices=SuppressionReason.choices, default=SuppressionReason.MANUAL)
    scope = serializers.ChoiceField(choices=SuppressionScope.choices, default=SuppressionScope.MARKETING)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class SuppressionRemoveInSerializer(serializers.Serializer):
    numbers = serializers.ListField(child=serializers.CharField(max_length=32), min_length=1, max_length=10_000)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)


BulkResultSerializer = inline_serializer(
    "SuppressionBulkResult",
    {
        "changed": serializers.ListField(child=serializers.CharField()),
        "unchanged": serializers.ListField(child=serializers.CharField()),
        "errors": serializers.DictField(child=serializers.CharField()),
    },
)

CheckSerializer = inline_serializer(
    "SuppressionCheck",
    {
        "number": serializers.CharField(),
        "suppressed": serializers.BooleanField(),
        "tenant": SuppressionSerializer(allow_null=True),
        "platform": serializers.DictField(allow_null=True),
        "blocked": serializers.DictField(child=serializers.CharField()),
    },
)


class ComplaintSerializer(serializers.ModelSerializer):
    class Meta:
        model = Complaint
        fields = [
            "id",
            "source",
            "number",
            "message_id",
            "text",
            "received_at",
            "status",
            "acknowledge_due",
            "resolve_due",
            "acknowledged_at",
            "resolved_at",
            "resolution_note",
        ]


def _bulk_payload(result) -> dict:
    return {"changed": result.added, "unchanged": result.unchanged, "errors": result.errors}


# --- Views ------------------------------------------------------------------------------


class ConsentListCreate(TenantAPIView):
    model = ConsentRecord
    serializer_class = ConsentSerializer
    required_scopes = {"GET": "read", "POST": "manage"}

    def filter_queryset_for_view(self, queryset):
        number = _number_param(self.request, required=False)
        if number:
            queryset = queryset.filter(number=number)
        purpose = self.request.query_params.get("purpose")
        if purpose:
            queryset = queryset.filter(purpose=purpose)
        return queryset

    @extend_schema(
        summary="List consent facts (grants and revocations), newest first",
        parameters=[
            OpenApiParameter("number", str, description="Only this number (any common format)."),
            OpenApiParameter("purpose", str, enum=Purpose.values),
        ],
        responses=ConsentSerializer(many=True),
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ConsentSerializer(page, many=True).data)

    @extend_schema(
        summary="Record a consent",
        request=ConsentInSerializer,
        responses={201: ConsentSerializer},
        description="Errors: 422 invalid_number / unknown_purpose / evidence_required / time_in_future.",
    )
    def post(self, request):
        data = ConsentInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        record = services.consent_record(
            tenant=self.tenant, actor=self.actor, ip_address=_client_ip(request), **data.validated_data
        )
        return Response(ConsentSerializer(record).data, status=status.HTTP_201_CREATED)


class ConsentRevoke(TenantAPIView):
    model = ConsentRecord
    serializer_class = ConsentSerializer
    required_scopes = {"POST": "manage"}

    @extend_schema(
        summary="Revoke a consent (appends a revocation)",
        request=RevokeInSerializer,
        responses={201: ConsentSerializer},
        description="Errors: 409 no_consent when no consent is in force; 422 invalid_number / unknown_purpose.",
    )
    def post(self, request):
        data = RevokeInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        record = services.consent_revoke(
            tenant=self.tenant,
            actor=self.actor,
            source=ConsentSource.API,
            ip_address=_client_ip(request),
            **data.validated_data,
        )
        return Response(ConsentSerializer(record).data, status=status.HTTP_201_CREATED)


class SuppressionListCreate(TenantAPIView):
    model = Suppression
    serializer_class = SuppressionSerializer
    required_scopes = {"GET": "read", "POST": "manage"}

    def filter_queryset_for_view(self, queryset):
        if self.request.query_params.get("all") != "1":
            queryset = queryset.filter(removed_at__isnull=True)
        number = _number_param(self.request, required=False)
        if number:
            queryset = queryset.filter(number=number)
        return queryset

    @extend_schema(
        summary="List suppressed numbers (in force; all=1 includes removed)",
        parameters=[OpenApiParameter("number", str), OpenApiParameter("all", str, enum=["1"])],
        responses=SuppressionSerializer(many=True),
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(SuppressionSerializer(page, many=True).data)

    @extend_schema(
        summary="Suppress numbers (bulk)",
        request=SuppressionInSerializer,
        responses={201: BulkResultSerializer},
        description="Invalid numbers are reported per number in `errors`; the valid ones are suppressed.",
    )
    def post(self, request):
        data = SuppressionInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.suppression_add_bulk(
            tenant=self.tenant, actor=self.actor, ip_address=_client_ip(request), **data.validated_data
        )
        return Response(_bulk_payload(result), status=status.HTTP_201_CREATED)


class SuppressionRemove(TenantAPIView):
    model = Suppression
    serializer_class = SuppressionSerializer
    required_scopes = {"POST": "manage"}

    @extend_schema(
        summary="Remove numbers from the suppression list (bulk)",
        request=SuppressionRemoveInSerializer,
        responses={200: BulkResultSerializer},
    )
    def post(self, request):
        data = SuppressionRemoveInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.suppression_remove_bulk(
            tenant=self.tenant, actor=self.actor, ip_address=_client_ip(request), **data.validated_data
        )
        return Response(_bulk_payload(result))


class SuppressionCheck(TenantAPIView):
    model = Suppression
    serializer_class = SuppressionSerializer
    required_scopes = {"GET": "read"}

    @extend_schema(
        summary="Check a number: suppressions in force and which message classes it would refuse",
        parameters=[OpenApiParameter("number", str, required=True)],
        responses=CheckSerializer,
    )
    def get(self, request):
        number = _number_param(request, required=True)
        found = selectors.suppression_check(tenant=self.tenant, number=number)
        blocked = {}
        for message_class in MessageClass.values:
            reason = gates.blocked_numbers(tenant=self.tenant, numbers=[number], message_class=message_class).get(
                number
            )
            if reason:
                blocked[message_class] = reason
        platform = found["platform"]
        return Response(
            {
                "number": number,
                "suppressed": bool(found["tenant"] or platform),
                "tenant": SuppressionSerializer(found["tenant"]).data if found["tenant"] else None,
                # The platform list's reason and note are the provider's business; its scope is the tenant's.
                "platform": {"scope": platform.scope} if platform else None,
                "blocked": blocked,
            }
        )


class ComplaintList(TenantAPIView):
    model = Complaint
    serializer_class = ComplaintSerializer
    required_scopes = {"GET": "read"}

    def filter_queryset_for_view(self, queryset):
        status_filter = self.request.query_params.get("status")
        return queryset.filter(status=status_filter) if status_filter else queryset

    @extend_schema(
        summary="List complaints about this tenant's messages",
        parameters=[OpenApiParameter("status", str, enum=["received", "acknowledged", "investigating", "resolved"])],
        responses=ComplaintSerializer(many=True),
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ComplaintSerializer(page, many=True).data)


# --- Platform staff ---------------------------------------------------------------------


class StaffComplaintInSerializer(serializers.Serializer):
    tenant = serializers.CharField(max_length=50, help_text="The enterprise: its id or its short name (slug).")
    source = serializers.ChoiceField(choices=ComplaintSource.choices)
    number = serializers.CharField(max_length=32)
    text = serializers.CharField(max_length=4000, allow_blank=True)  # blank → 422 text_required
    received_at = serializers.DateTimeField(required=False, allow_null=True)
    message_id = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**63 - 1)


class StaffComplaintSerializer(ComplaintSerializer):
    tenant = serializers.IntegerField(source="tenant_id", read_only=True)
    marketing_paused = serializers.SerializerMethodField()

    class Meta(ComplaintSerializer.Meta):
        fields = ["tenant", *ComplaintSerializer.Meta.fields, "recorded_by_label", "marketing_paused"]

    def get_marketing_paused(self, complaint) -> bool:
        return gates.marketing_paused(tenant=complaint.tenant)


def _tenant_by_ref(ref: str):
    from tenants.models import Tenant

    ref = ref.strip()
    if ref.isdigit():
        tenant = Tenant.objects.filter(pk=int(ref)).first() if len(ref) <= 18 else None
    else:
        tenant = Tenant.objects.filter(slug=ref).first()
    if tenant is None:
        raise Unprocessable("unknown_tenant", _("No enterprise with this id or short name."), field="tenant")
    return tenant


class StaffComplaintCreate(StaffAPIView):
    serializer_class = StaffComplaintInSerializer

    @extend_schema(
        summary="Record a complaint about any tenant (platform staff)",
        request=StaffComplaintInSerializer,
        responses={201: StaffComplaintSerializer},
        auth=[{"staffSession": []}],
        tags=["staff"],
        description=(
            "Platform staff only (portal session with two-factor; CSRF header on the POST). The number is "
            "suppressed for the tenant's marketing and the tenant's complaint rate is re-checked (its marketing "
            "is paused above the platform threshold; `marketing_paused` in the answer). "
            "Errors: 400 invalid (malformed fields); 422 unknown_tenant / invalid_number / text_required / "
            "time_in_future / invalid_time / unknown_message; 401 not_authenticated; 403 mfa_required; "
            "404 for anyone who is not platform staff."
        ),
    )
    def post(self, request):
        data = StaffComplaintInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        tenant = _tenant_by_ref(values.pop("tenant"))
        complaint = services.complaint_record(tenant=tenant, actor=self.actor, ip_address=_client_ip(request), **values)
        return Response(StaffComplaintSerializer(complaint).data, status=status.HTTP_201_CREATED)
