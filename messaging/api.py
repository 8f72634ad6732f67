"""The send API: POST /api/v1/messages, POST /api/v1/messages/batch, GET /api/v1/messages[/id]."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from messaging import selectors
from messaging.idempotency import idempotency_begin, idempotency_finish, request_fingerprint
from messaging.models import Message
from messaging.ratelimit import TenantRateThrottle
from messaging.services import AcceptResult, message_accept_batch
from smsportal.enums import MessageStatus
from smsportal.errors import NotFound, ServiceError, Unprocessable
from tenants.api_base import TenantAPIView

MAX_BATCH = 1000

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Same key + same body within 24 h returns the first answer; another body → 422; "
    "while the first is still running → 409.",
)


class RecipientSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=40)
    variables = serializers.DictField(required=False, default=dict)
    client_ref = serializers.CharField(max_length=100, required=False, allow_blank=True)


class SendSerializer(serializers.Serializer):
    template_id = serializers.IntegerField()
    number = serializers.CharField(max_length=40)
    variables = serializers.DictField(required=False, default=dict)
    send_at = serializers.DateTimeField(required=False, allow_null=True, default_timezone=None)
    client_ref = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class BatchSerializer(serializers.Serializer):
    template_id = serializers.IntegerField()
    recipients = RecipientSerializer(many=True, allow_empty=False)
    send_at = serializers.DateTimeField(required=False, allow_null=True, default_timezone=None)
    client_ref = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")

    def validate_recipients(self, value):
        if len(value) > MAX_BATCH:
            raise serializers.ValidationError(
                gettext_lazy("At most %(max)d recipients per batch.") % {"max": MAX_BATCH}, code="batch_too_large"
            )
        return value


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = [
            "id",
            "number",
            "carrier",
            "province",
            "message_class",
            "template_id",
            "segments",
            "status",
            "failure_reason",
            "raw_status",
            "client_ref",
            "campaign_id",
            "accepted_at",
            "send_at",
            "submitted_at",
            "done_at",
            "body",
        ]


def result_json(result: AcceptResult) -> dict:
    data = {
        "index": result.index,
        "id": result.message_id,
        "number": result.number,
        "status": str(result.status),
        "segments": result.segments,
        "estimated_price": str(result.estimated_price) if result.estimated_price is not None else None,
    }
    if result.status != MessageStatus.QUEUED:
        data["reason"] = str(result.reason)
        data["detail"] = str(result.detail)
    if result.fields:
        data["fields"] = result.fields
    return data


class SendBase(TenantAPIView):
    model = Message
    required_scopes = {"POST": "send", "GET": "read"}
    throttle_classes = [TenantRateThrottle]
    rate_bucket = "send"

    def accept(self, request, serializer_class, build):
        key = request.headers.get("Idempotency-Key")
        row = None
        if key:
            row, replay = idempotency_begin(
                tenant=self.tenant, key=key, fingerprint=request_fingerprint(request.path, request.data)
            )
            if replay is not None:
                return Response(replay["body"], status=replay["status"], headers={"Idempotent-Replayed": "true"})
        try:
            serializer = serializer_class(data=request.data)
            serializer.is_valid(raise_exception=True)
            status, body = build(serializer.validated_data)
        except BaseException:
            if row is not None:
                idempotency_finish(row, status=500, body=None)
            raise
        if row is not None:
            idempotency_finish(row, status=status, body=body)
        return Response(body, status=status)

    def run_accept(self, data, recipients):
        try:
            return message_accept_batch(
                tenant=self.tenant,
                actor=self.actor,
                template_id=data["template_id"],
                recipients=recipients,
                client_ref=data.get("client_ref") or None,
                send_at=data.get("send_at"),
            )
        except NotFound as error:
            # The template is a field of this request: answer like any other invalid field.
            raise Unprocessable(error.code, error.message, fields=error.fields) from None


class MessageListCreate(SendBase):
    serializer_class = MessageSerializer

    @extend_schema(
        summary="Send one message",
        request=SendSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: OpenApiTypes.OBJECT,
            400: OpenApiTypes.OBJECT,
            402: OpenApiTypes.OBJECT,
            409: OpenApiTypes.OBJECT,
            422: OpenApiTypes.OBJECT,
            429: OpenApiTypes.OBJECT,
        },
        description="Queues one message from an approved template. A refused number (invalid, suppressed, "
        "no consent, frequency cap) answers 422 with the reason as `code`; the refusal is also stored and "
        "listed with status `rejected`.",
    )
    def post(self, request):
        def build(data):
            [result] = self.run_accept(data, [{"number": data["number"], "variables": data.get("variables") or {}}])
            if result.status == "invalid":
                raise ServiceError("invalid_variables", result.detail, fields=result.fields, status=422)
            if result.status == MessageStatus.REJECTED:
                raise ServiceError(
                    str(result.reason),
                    result.detail or _("This number cannot be sent to."),
                    fields={"number": [str(result.detail or result.reason)], "message_id": [str(result.message_id)]},
                    status=422,
                )
            return 201, result_json(result)

        return self.accept(request, SendSerializer, build)

    @extend_schema(
        summary="List messages",
        parameters=[
            OpenApiParameter("status", str),
            OpenApiParameter("number", str),
            OpenApiParameter("date_from", OpenApiTypes.DATE),
            OpenApiParameter("date_to", OpenApiTypes.DATE),
            OpenApiParameter("template", int),
            OpenApiParameter("campaign", int),
            OpenApiParameter("client_ref", str),
        ],
        responses=MessageSerializer(many=True),
    )
    def get(self, request):
        filters = selectors.MessageFilters.from_params(request.query_params, tenant=self.tenant)
        if filters.errors:
            raise ServiceError("invalid_filter", _("Some filters are invalid."), fields=filters.errors)
        queryset = filters.apply(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(MessageSerializer(page, many=True).data)


class MessageBatch(SendBase):
    @extend_schema(
        summary="Send a batch (up to 1,000 numbers, per-number variables)",
        request=BatchSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: inline_serializer(
                "BatchResult",
                {
                    "accepted": serializers.IntegerField(),
                    "rejected": serializers.IntegerField(),
                    "results": serializers.ListField(),
                },
            )
        },
        description="Good numbers are queued; bad ones are listed with their reason (`rejected`: stored "
        "with the reason; `invalid`: bad variables, not stored). Insufficient balance refuses the whole "
        "batch with 402.",
    )
    def post(self, request):
        def build(data):
            results = self.run_accept(data, [dict(r) for r in data["recipients"]])
            accepted = sum(1 for r in results if r.status == MessageStatus.QUEUED)
            return 201, {
                "accepted": accepted,
                "rejected": len(results) - accepted,
                "results": [result_json(r) for r in results],
            }

        return self.accept(request, BatchSerializer, build)


class MessageDetail(TenantAPIView):
    model = Message
    required_scopes = {"GET": "read"}
    throttle_classes = [TenantRateThrottle]
    serializer_class = MessageSerializer

    @extend_schema(summary="A message and its status", responses=MessageSerializer)
    def get(self, request, message_id: int):
        message = self.get_queryset().filter(pk=message_id).first()
        if message is None:
            raise NotFound("message_not_found", _("No such message."))
        return Response(MessageSerializer(message).data)
