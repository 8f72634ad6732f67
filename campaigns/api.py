"""Campaigns API: contact lists (create, upload, import status) and campaigns (create,
review, schedule, start, pause, resume, cancel, stats)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from campaigns import selectors, services
from campaigns.models import Campaign, ContactImport, ContactList
from smsportal.enums import Carrier
from tenants.api_base import TenantAPIView

MANAGE = {"GET": "read", "POST": "manage"}


class ContactListSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContactList
        fields = ["id", "name", "description", "fields", "contact_count", "created_at"]
        read_only_fields = ["id", "fields", "contact_count", "created_at"]


class ContactImportSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = ContactImport
        fields = [
            "id",
            "contact_list",
            "original_name",
            "file_format",
            "encoding",
            "number_column",
            "status",
            "percent",
            "rows_read",
            "imported",
            "duplicates",
            "invalid",
            "carrier_counts",
            "province_counts",
            "error_code",
            "error_message",
            "created_at",
            "finished_at",
        ]


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV (UTF-8 or GBK) or XLSX; the first row names the columns.")
    number_column = serializers.CharField(required=False, allow_blank=True, default="")


class ConditionSerializer(serializers.Serializer):
    field = serializers.CharField()
    op = serializers.ChoiceField(choices=list(selectors.CONDITION_OPS))
    value = serializers.CharField(required=False, allow_blank=True, default="")


class AudienceFilterSerializer(serializers.Serializer):
    carriers = serializers.ListField(child=serializers.ChoiceField(choices=Carrier.values), required=False)
    provinces = serializers.ListField(child=serializers.CharField(), required=False)
    conditions = ConditionSerializer(many=True, required=False)
    consent = serializers.ChoiceField(choices=list(selectors.CONSENT_STATES), required=False, default="any")


class CampaignWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    template_id = serializers.IntegerField()
    list_ids = serializers.ListField(child=serializers.IntegerField(), min_length=1)
    audience_filter = AudienceFilterSerializer(required=False)
    variables = serializers.DictField(
        child=serializers.DictField(child=serializers.CharField()),
        required=False,
        help_text='template variable → {"column": "姓名"} or {"value": "fixed text"}',
    )
    link_variable = serializers.CharField(required=False, allow_blank=True, default="")
    link_url = serializers.URLField(required=False, allow_blank=True, default="")
    send_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    respect_quiet_hours = serializers.BooleanField(required=False, default=True)
    rate_per_minute = serializers.IntegerField(required=False, min_value=0, default=0)


class CampaignSerializer(serializers.ModelSerializer):
    lists = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "status",
            "template_id",
            "message_class",
            "lists",
            "audience_filter",
            "variables",
            "link_variable",
            "link_url",
            "send_at",
            "respect_quiet_hours",
            "rate_per_minute",
            "audience_size",
            "queued_count",
            "review",
            "error_message",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_lists(self, obj) -> list[int]:
        return list(obj.contact_lists.values_list("pk", flat=True))


class ScheduleSerializer(serializers.Serializer):
    send_at = serializers.DateTimeField(allow_null=True)


class ContactListsView(TenantAPIView):
    model = ContactList
    required_scopes = MANAGE
    serializer_class = ContactListSerializer

    @extend_schema(responses=ContactListSerializer(many=True), summary="Contact lists", tags=["campaigns"])
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset().order_by("-created_at"))
        return self.get_paginated_response(ContactListSerializer(page, many=True).data)

    @extend_schema(
        request=ContactListSerializer,
        responses={201: ContactListSerializer},
        summary="Create a list",
        tags=["campaigns"],
    )
    def post(self, request):
        data = ContactListSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = services.contact_list_create(
            tenant=self.tenant,
            actor=self.actor,
            name=data.validated_data["name"],
            description=data.validated_data.get("description", ""),
        )
        return Response(ContactListSerializer(created).data, status=status.HTTP_201_CREATED)


class ContactListUploadView(TenantAPIView):
    model = ContactList
    required_scopes = {"POST": "manage"}
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": UploadSerializer},
        responses={202: ContactImportSerializer},
        summary="Upload contacts into a list (imported in the background)",
        tags=["campaigns"],
    )
    def post(self, request, list_id):
        contact_list = self.get_object_or_404(list_id)
        data = UploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        contact_import = services.contact_import_start(
            tenant=self.tenant,
            actor=self.actor,
            upload=data.validated_data["file"],
            contact_list=contact_list,
            number_column=data.validated_data["number_column"].strip(),
        )
        return Response(ContactImportSerializer(contact_import).data, status=status.HTTP_202_ACCEPTED)

    def get_object_or_404(self, pk):
        from django.http import Http404

        found = self.get_queryset().filter(pk=pk).first()
        if found is None:
            raise Http404
        return found


class ContactImportView(TenantAPIView):
    model = ContactImport
    required_scopes = {"GET": "read"}

    @extend_schema(responses=ContactImportSerializer, summary="Import status", tags=["campaigns"])
    def get(self, request, import_id):
        from django.http import Http404

        found = self.get_queryset().filter(pk=import_id).first()
        if found is None:
            raise Http404
        return Response(ContactImportSerializer(found).data)


class CampaignsView(TenantAPIView):
    model = Campaign
    required_scopes = MANAGE
    serializer_class = CampaignSerializer

    @extend_schema(responses=CampaignSerializer(many=True), summary="Campaigns", tags=["campaigns"])
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset().order_by("-created_at"))
        return self.get_paginated_response(CampaignSerializer(page, many=True).data)

    @extend_schema(
        request=CampaignWriteSerializer,
        responses={201: CampaignSerializer},
        summary="Create a campaign (draft)",
        tags=["campaigns"],
    )
    def post(self, request):
        data = CampaignWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        campaign = services.campaign_save(tenant=self.tenant, actor=self.actor, **data.validated_data)
        return Response(CampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)


class _CampaignObject(TenantAPIView):
    model = Campaign

    def campaign(self, campaign_id) -> Campaign:
        from django.http import Http404

        found = self.get_queryset().filter(pk=campaign_id).first()
        if found is None:
            raise Http404
        return found


class CampaignDetailView(_CampaignObject):
    required_scopes = {"GET": "read"}

    @extend_schema(responses=CampaignSerializer, summary="A campaign", tags=["campaigns"])
    def get(self, request, campaign_id):
        return Response(CampaignSerializer(self.campaign(campaign_id)).data)


class FailureCountSerializer(serializers.Serializer):
    reason = serializers.CharField()
    count = serializers.IntegerField()


class CampaignStatsSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    audience = serializers.IntegerField()
    excluded = serializers.IntegerField()
    messages = serializers.IntegerField()
    queued = serializers.IntegerField()
    submitted = serializers.IntegerField()
    delivered = serializers.IntegerField()
    failed = serializers.IntegerField()
    rejected = serializers.IntegerField()
    delivery_rate = serializers.FloatField(allow_null=True)
    rate_per_minute = serializers.FloatField(allow_null=True)
    eta_seconds = serializers.FloatField(allow_null=True)
    percent = serializers.FloatField(allow_null=True)
    failure_reasons = FailureCountSerializer(many=True)
    clicks = serializers.IntegerField()
    unique_clicks = serializers.IntegerField()
    click_rate = serializers.FloatField(allow_null=True)


class CampaignStatsView(_CampaignObject):
    required_scopes = {"GET": "read"}

    @extend_schema(
        responses=CampaignStatsSerializer,
        summary="Live counts: queued, submitted, delivered, failed, rate, ETA, clicks",
        tags=["campaigns"],
    )
    def get(self, request, campaign_id):
        campaign = self.campaign(campaign_id)
        stats = selectors.campaign_stats(tenant=self.tenant, campaign=campaign)
        return Response({"id": campaign.pk, "status": campaign.status, **stats.as_dict()})


class CampaignScheduleView(_CampaignObject):
    required_scopes = {"POST": "manage"}
    parser_classes = [JSONParser]

    @extend_schema(
        request=ScheduleSerializer,
        responses=CampaignSerializer,
        summary="Set the send time and schedule (or start)",
        tags=["campaigns"],
    )
    def post(self, request, campaign_id):
        campaign = self.campaign(campaign_id)
        data = ScheduleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if not campaign.is_editable:
            from smsportal.errors import Conflict

            raise Conflict("not_editable", "Only a draft or scheduled campaign can be scheduled.")
        services._check_send_at(data.validated_data["send_at"])
        Campaign.objects.filter(pk=campaign.pk).update(send_at=data.validated_data["send_at"])
        campaign.refresh_from_db()
        campaign = services.campaign_start(tenant=self.tenant, actor=self.actor, campaign=campaign)
        return Response(CampaignSerializer(campaign).data)


class CampaignActionView(_CampaignObject):
    required_scopes = {"POST": "manage"}
    action_name = ""

    @extend_schema(request=None, responses=CampaignSerializer, tags=["campaigns"])
    def post(self, request, campaign_id):
        campaign = self.campaign(campaign_id)
        if self.action_name == "review":
            queued = services.campaign_review_request(tenant=self.tenant, actor=self.actor, campaign=campaign)
            campaign.refresh_from_db()
            if queued:  # a large audience: poll GET /campaigns/{id} until review.messages appears
                return Response(CampaignSerializer(campaign).data, status=status.HTTP_202_ACCEPTED)
        else:
            service = {
                "start": services.campaign_start,
                "pause": services.campaign_pause,
                "resume": services.campaign_resume,
                "cancel": services.campaign_cancel,
            }[self.action_name]
            campaign = service(tenant=self.tenant, actor=self.actor, campaign=campaign)
        return Response(CampaignSerializer(campaign).data)
