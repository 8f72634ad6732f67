"""REST API for the tenant's status-webhook endpoint: read and change its configuration,
rotate the signing secret, list events and delivery attempts, resend an event.

Thin: the portal's services do every write (webhooks/services.py); reads need the `read`
scope, changes `manage`.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from messaging.ratelimit import TenantRateThrottle
from messaging.webhooks import selectors, services
from messaging.webhooks.models import SUBSCRIBABLE_EVENTS, EventType, WebhookAttempt, WebhookEndpoint, WebhookEvent
from messaging.webhooks.tasks import kick_delivery
from smsportal.errors import NotFound, ServiceError
from tenants.api_base import TenantAPIView

# --- Serializers (shapes only; the services decide) ---------------------------------------


class EndpointSerializer(serializers.ModelSerializer):
    enabled = serializers.BooleanField(source="is_active")
    events = serializers.ListField(child=serializers.ChoiceField(choices=SUBSCRIBABLE_EVENTS))
    previous_secret_hint = serializers.SerializerMethodField()

    class Meta:
        model = WebhookEndpoint
        fields = [
            "url",
            "events",
            "enabled",
            "secret_hint",
            "previous_secret_hint",
            "previous_secret_valid_until",
            "secret_rotated_at",
            "created_at",
            "updated_at",
        ]

    def get_previous_secret_hint(self, endpoint) -> str | None:
        # The previous secret signs (a second v1=) only until previous_secret_valid_until.
        return endpoint.previous_secret_hint or None


class EndpointWithSecretSerializer(EndpointSerializer):
    """For the schema; the views build the body with _with_secret."""

    secret = serializers.CharField(help_text="The new signing secret. Shown in this response only.")

    class Meta(EndpointSerializer.Meta):
        fields = ["secret", *EndpointSerializer.Meta.fields]


class EndpointInSerializer(serializers.Serializer):
    # Free text: the service checks URLs and event names with stable codes (invalid_url,
    # https_required, private_url, unknown_event, events_required), as for the portal form.
    url = serializers.CharField(max_length=500, allow_blank=True)
    events = serializers.ListField(child=serializers.CharField(max_length=40), allow_empty=True)
    enabled = serializers.BooleanField(default=True)


class EndpointPatchSerializer(EndpointInSerializer):
    url = serializers.CharField(max_length=500, allow_blank=True, required=False)
    events = serializers.ListField(child=serializers.CharField(max_length=40), allow_empty=True, required=False)
    enabled = serializers.BooleanField(required=False)


class EventSerializer(serializers.ModelSerializer):
    data = serializers.JSONField(source="payload", read_only=True)

    class Meta:
        model = WebhookEvent
        fields = [
            "id",
            "event_id",
            "event_type",
            "status",
            "message_id",
            "attempts",
            "last_attempt_at",
            "last_status_code",
            "next_attempt_at",
            "give_up_at",
            "delivered_at",
            "resent_at",
            "created_at",
            "data",
        ]


class AttemptSerializer(serializers.ModelSerializer):
    event = serializers.IntegerField(source="event_id", read_only=True, help_text="The event's `id`.")
    event_id = serializers.UUIDField(source="event.event_id", read_only=True, help_text="The event's `event_id`.")
    event_type = serializers.CharField(source="event.event_type", read_only=True)

    class Meta:
        model = WebhookAttempt
        fields = [
            "id",
            "event",
            "event_id",
            "event_type",
            "number",
            "attempted_at",
            "url",
            "outcome",
            "status_code",
            "duration_ms",
            "response_excerpt",
            "error",
        ]


class EventDetailSerializer(EventSerializer):
    attempt_log = AttemptSerializer(many=True, read_only=True)

    class Meta(EventSerializer.Meta):
        fields = [*EventSerializer.Meta.fields, "attempt_log"]


class EventFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=WebhookEvent.Status.choices, required=False)
    event_type = serializers.ChoiceField(choices=EventType.choices, required=False)
    message_id = serializers.IntegerField(required=False, min_value=1)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)


class AttemptFilterSerializer(serializers.Serializer):
    event = serializers.IntegerField(required=False, min_value=1)
    outcome = serializers.ChoiceField(choices=WebhookAttempt.Outcome.choices, required=False)
    status_code = serializers.IntegerField(required=False, min_value=100, max_value=599)
    attempted_after = serializers.DateTimeField(required=False)
    attempted_before = serializers.DateTimeField(required=False)


def _filters(serializer_class, params) -> dict:
    serializer = serializer_class(data=params)
    if not serializer.is_valid():
        fields = {name: [str(message) for message in messages] for name, messages in serializer.errors.items()}
        raise ServiceError("invalid_filter", _("Some filters are invalid."), fields=fields)
    return serializer.validated_data


ERRORS = {
    400: OpenApiResponse(OpenApiTypes.OBJECT, description="Invalid fields: `{error: {code, message, fields}}`"),
    403: OpenApiResponse(OpenApiTypes.OBJECT, description="The API key lacks the needed scope"),
    404: OpenApiResponse(OpenApiTypes.OBJECT, description="No endpoint configured (`webhook_not_configured`)"),
}


class WebhookBase(TenantAPIView):
    throttle_classes = [TenantRateThrottle]
    required_scopes = {"GET": "read", "PUT": "manage", "PATCH": "manage", "POST": "manage"}

    def endpoint_or_404(self) -> WebhookEndpoint:
        endpoint = selectors.webhook_endpoint(tenant=self.tenant)
        if endpoint is None:
            raise NotFound("webhook_not_configured", _("Configure the webhook endpoint first."))
        return endpoint


class WebhookEndpointView(WebhookBase):
    """The tenant's one webhook endpoint."""

    model = WebhookEndpoint
    serializer_class = EndpointSerializer

    @extend_schema(
        summary="The webhook endpoint's configuration",
        responses={200: EndpointSerializer, 404: ERRORS[404]},
        description="Where status events are POSTed, which events, whether enabled, and hints (last "
        "characters) of the signing secrets. The secrets themselves are never shown again.",
    )
    def get(self, request):
        return Response(EndpointSerializer(self.endpoint_or_404()).data)

    @extend_schema(
        summary="Create or replace the webhook endpoint",
        request=EndpointInSerializer,
        responses={200: EndpointSerializer, 201: EndpointWithSecretSerializer, 400: ERRORS[400], 403: ERRORS[403]},
        description="Creates the endpoint (201, with its signing `secret` — shown in this response only) or "
        "replaces its URL, events and enabled flag (200). Error codes: `invalid_url`, `https_required` and "
        "`private_url` (production accepts only https on public addresses), `unknown_event`, `events_required`.",
    )
    def put(self, request):
        data = _validated(EndpointInSerializer, request.data)
        return self._save(url=data["url"], events=data["events"], is_active=data["enabled"])

    @extend_schema(
        summary="Change some of the webhook endpoint's settings",
        request=EndpointPatchSerializer,
        responses={200: EndpointSerializer, 400: ERRORS[400], 403: ERRORS[403], 404: ERRORS[404]},
        description="Only the fields given change. The endpoint must exist (`webhook_not_configured`).",
    )
    def patch(self, request):
        data = _validated(EndpointPatchSerializer, request.data)
        endpoint = self.endpoint_or_404()
        return self._save(
            url=data.get("url", endpoint.url),
            events=data.get("events", endpoint.events),
            is_active=data.get("enabled", endpoint.is_active),
        )

    def _save(self, *, url: str, events: list[str], is_active: bool) -> Response:
        endpoint, new_secret = services.webhook_endpoint_save(
            tenant=self.tenant, actor=self.actor, url=url, events=events, is_active=is_active
        )
        if new_secret:
            return Response(_with_secret(endpoint, new_secret), status=status.HTTP_201_CREATED)
        return Response(EndpointSerializer(endpoint).data)


def _with_secret(endpoint: WebhookEndpoint, secret: str) -> dict:
    """The endpoint plus its new secret: the only responses that ever carry a secret."""
    return {"secret": secret, **EndpointSerializer(endpoint).data}


def _validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class WebhookSecretRotate(WebhookBase):
    model = WebhookEndpoint

    @extend_schema(
        summary="Rotate the signing secret",
        request=None,
        responses={200: EndpointWithSecretSerializer, 403: ERRORS[403], 404: ERRORS[404]},
        description="A new secret signs from now on and is returned in this response only. The previous "
        "secret keeps signing too (a second `v1=` in `X-Signature`) until `previous_secret_valid_until` "
        "(24 hours), so receivers can switch without losing events.",
    )
    def post(self, request):
        endpoint, new_secret = services.webhook_secret_rotate(tenant=self.tenant, actor=self.actor)
        return Response(_with_secret(endpoint, new_secret))


class WebhookRotationFinish(WebhookBase):
    model = WebhookEndpoint

    @extend_schema(
        summary="Stop signing with the previous secret now",
        request=None,
        responses={200: EndpointSerializer, 403: ERRORS[403], 404: ERRORS[404]},
        description="Ends a rotation before its 24 hours are up, once every receiver has the new secret.",
    )
    def post(self, request):
        endpoint = services.webhook_rotation_finish(tenant=self.tenant, actor=self.actor)
        return Response(EndpointSerializer(endpoint).data)


class WebhookTestEvent(WebhookBase):
    model = WebhookEvent

    @extend_schema(
        summary="Send a test event",
        request=None,
        responses={202: EventSerializer, 403: ERRORS[403], 404: ERRORS[404]},
        description="Queues a `webhook.test` event for delivery at once.",
    )
    def post(self, request):
        event = services.webhook_test_send(tenant=self.tenant, actor=self.actor)
        transaction.on_commit(kick_delivery)
        return Response(EventSerializer(event).data, status=status.HTTP_202_ACCEPTED)


class WebhookEventList(WebhookBase):
    model = WebhookEvent
    serializer_class = EventSerializer

    @extend_schema(
        summary="List webhook events (newest first)",
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=WebhookEvent.Status.values),
            OpenApiParameter("event_type", OpenApiTypes.STR, enum=EventType.values),
            OpenApiParameter("message_id", OpenApiTypes.INT),
            OpenApiParameter("created_after", OpenApiTypes.DATETIME),
            OpenApiParameter("created_before", OpenApiTypes.DATETIME),
        ],
        responses={200: EventSerializer(many=True), 400: ERRORS[400]},
        description="Cursor-paginated (`next`/`previous` links). A bad filter answers 400 `invalid_filter`.",
    )
    def get(self, request):
        params = _filters(EventFilterSerializer, request.query_params)
        queryset = selectors.webhook_events_filter(
            self.get_queryset(),
            status=params.get("status", ""),
            event_type=params.get("event_type", ""),
            message_id=params.get("message_id"),
            since=params.get("created_after"),
            until=params.get("created_before"),
        )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(EventSerializer(page, many=True).data)


class WebhookEventDetail(WebhookBase):
    model = WebhookEvent
    serializer_class = EventDetailSerializer

    @extend_schema(
        summary="A webhook event and its delivery attempts",
        responses={200: EventDetailSerializer, 404: OpenApiResponse(OpenApiTypes.OBJECT)},
    )
    def get(self, request, event_pk: int):
        event = self.get_queryset().filter(pk=event_pk).prefetch_related("attempt_log").first()
        if event is None:
            raise NotFound("webhook_event_not_found", _("No such webhook event."))
        return Response(EventDetailSerializer(event).data)


class WebhookEventResend(WebhookBase):
    model = WebhookEvent

    @extend_schema(
        summary="Resend a webhook event",
        request=None,
        responses={202: EventSerializer, 403: ERRORS[403], 404: OpenApiResponse(OpenApiTypes.OBJECT)},
        description="Queues the event for delivery again at once, with the same `event_id` and body "
        "(receivers deduplicate on it) and a fresh 24-hour retry window.",
    )
    def post(self, request, event_pk: int):
        event = services.webhook_event_resend(tenant=self.tenant, actor=self.actor, event_id=event_pk)
        transaction.on_commit(kick_delivery)
        return Response(EventSerializer(event).data, status=status.HTTP_202_ACCEPTED)


class WebhookAttemptList(WebhookBase):
    model = WebhookAttempt
    serializer_class = AttemptSerializer

    @extend_schema(
        summary="List delivery attempts (newest first)",
        parameters=[
            OpenApiParameter("event", OpenApiTypes.INT, description="An event's `id`"),
            OpenApiParameter("outcome", OpenApiTypes.STR, enum=WebhookAttempt.Outcome.values),
            OpenApiParameter("status_code", OpenApiTypes.INT, description="Your endpoint's HTTP answer"),
            OpenApiParameter("attempted_after", OpenApiTypes.DATETIME),
            OpenApiParameter("attempted_before", OpenApiTypes.DATETIME),
        ],
        responses={200: AttemptSerializer(many=True), 400: ERRORS[400]},
        description="Every POST we made, with the response code, duration and the start of the response. "
        "Cursor-paginated. A bad filter answers 400 `invalid_filter`.",
    )
    def get(self, request):
        params = _filters(AttemptFilterSerializer, request.query_params)
        queryset = selectors.webhook_attempts_filter(
            self.get_queryset(),
            event_id=params.get("event"),
            outcome=params.get("outcome", ""),
            status_code=params.get("status_code"),
            since=params.get("attempted_after"),
            until=params.get("attempted_before"),
        )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(AttemptSerializer(page, many=True).data)
