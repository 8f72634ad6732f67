"""REST API: signatures, templates (versions, submit, findings), the rule-engine check and the
segment counter. Reads need the "read" scope, writes "manage"."""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from smsportal.enums import MessageClass
from smsportal.errors import Conflict, ServiceError
from templates import selectors, services
from templates.models import MessageTemplate, Signature, TemplateVersion
from templates.rendering import signature_prefix
from tenants.api_base import TenantAPIView

READ_MANAGE = {"GET": "read", "POST": "manage", "PATCH": "manage", "PUT": "manage", "DELETE": "manage"}


# --- serializers (shape only; the services decide) ----------------------------------------------


class VariableSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=30)
    type = serializers.CharField(max_length=16)
    max_length = serializers.IntegerField(required=False, min_value=1, max_value=100)
    example = serializers.CharField(max_length=100, allow_blank=True, required=False)


class FindingSerializer(serializers.Serializer):
    rule = serializers.CharField()
    severity = serializers.ChoiceField(choices=["block", "warn"])
    message = serializers.DictField(child=serializers.CharField())
    detail = serializers.DictField(child=serializers.CharField(allow_blank=True))
    spans = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()))
    fix = serializers.DictField(allow_null=True)


class SignatureOut(serializers.ModelSerializer):
    documents = serializers.SerializerMethodField()

    class Meta:
        model = Signature
        fields = ["id", "name", "kind", "third_party", "status", "rejection_reason", "submitted_at", "decided_at"]
        read_only_fields = fields

    def get_documents(self, obj) -> list[dict]:
        return [{"id": d.id, "kind": d.kind, "name": d.original_name, "size": d.size} for d in obj.documents.all()]


SignatureOut.Meta.fields = [*SignatureOut.Meta.fields, "documents"]


class SignatureIn(serializers.Serializer):
    name = serializers.CharField(max_length=30)
    kind = serializers.ChoiceField(choices=Signature.Kind.choices)
    third_party = serializers.BooleanField(required=False, default=False)
    proofs = serializers.ListField(child=serializers.FileField(), required=False, default=list)
    authorisation = serializers.FileField(required=False, allow_null=True, default=None)


class VersionOut(serializers.ModelSerializer):
    class Meta:
        model = TemplateVersion
        fields = [
            "number",
            "status",
            "body",
            "variables",
            "title",
            "findings",
            "submitted_at",
            "decided_at",
            "rejection_reason",
            "created_at",
        ]
        read_only_fields = fields


class TemplateOut(serializers.ModelSerializer):
    signature = serializers.CharField(source="signature.name")
    signature_id = serializers.IntegerField()
    approved_version = serializers.SerializerMethodField()
    latest_version = serializers.SerializerMethodField()

    class Meta:
        model = MessageTemplate
        fields = [
            "id",
            "name",
            "kind",
            "is_rich",
            "signature",
            "signature_id",
            "approved_version",
            "latest_version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_approved_version(self, obj) -> dict | None:
        return VersionOut(obj.approved_version).data if obj.approved_version_id else None

    def get_latest_version(self, obj) -> dict | None:
        latest = TemplateVersion.objects.for_tenant(obj.tenant).filter(template=obj).order_by("-number").first()
        return VersionOut(latest).data if latest else None


class TemplateIn(serializers.Serializer):
    name = serializers.CharField(max_length=80)
    kind = serializers.ChoiceField(choices=MessageClass.choices)
    signature_id = serializers.IntegerField()
    body = serializers.CharField(allow_blank=True, required=False, default="", max_length=2000)
    variables = VariableSerializer(many=True, required=False, default=list)
    is_rich = serializers.BooleanField(required=False, default=False)
    title = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")


class TemplateEditIn(serializers.Serializer):
    body = serializers.CharField(required=False, max_length=2000)
    variables = VariableSerializer(many=True, required=False)
    title = serializers.CharField(max_length=40, required=False, allow_blank=True)
    signature_id = serializers.IntegerField(required=False)


class CheckIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=MessageClass.choices)
    body = serializers.CharField(max_length=2000, allow_blank=True)
    variables = VariableSerializer(many=True, required=False, default=list)
    signature_id = serializers.IntegerField(required=False)


class CheckOut(serializers.Serializer):
    blocked = serializers.BooleanField()
    findings = FindingSerializer(many=True)


class SegmentsIn(serializers.Serializer):
    text = serializers.CharField(max_length=5000, allow_blank=True, trim_whitespace=False)
    kind = serializers.ChoiceField(choices=MessageClass.choices, required=False, default=MessageClass.NOTIFICATION)
    signature_id = serializers.IntegerField(
        required=False, help_text="When given, 【signature】 is put in front before counting."
    )


class SegmentsOut(serializers.Serializer):
    text = serializers.CharField()
    encoding = serializers.CharField()
    characters = serializers.IntegerField()
    segments = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True)
    price = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True)


class SubmitOut(serializers.Serializer):
    status = serializers.CharField()
    returned = serializers.BooleanField(help_text="True when a block finding sent the draft back (see findings).")
    version = VersionOut()


# --- views -----------------------------------------------------------------------------------


def _int_or_404(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404


class SignatureListView(TenantAPIView):
    model = Signature
    required_scopes = READ_MANAGE
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    serializer_class = SignatureOut

    def filter_queryset_for_view(self, queryset):
        return queryset.prefetch_related("documents").order_by("name")

    @extend_schema(summary="List signatures", responses=SignatureOut(many=True))
    def get(self, request):
        return Response(SignatureOut(self.get_queryset(), many=True).data)

    @extend_schema(
        summary="Apply for a signature (multipart: proofs[] files, optional authorisation file)",
        request={"multipart/form-data": SignatureIn},
        responses={201: SignatureOut},
    )
    def post(self, request):
        serializer = SignatureIn(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        signature = services.signature_apply(
            tenant=self.tenant,
            actor=self.actor,
            name=values["name"],
            kind=values["kind"],
            third_party=values["third_party"],
            proofs=values["proofs"],
            authorisation=values["authorisation"],
        )
        return Response(SignatureOut(signature).data, status=status.HTTP_201_CREATED)


class SignatureDetailView(TenantAPIView):
    model = Signature
    required_scopes = READ_MANAGE
    serializer_class = SignatureOut

    def _object(self, signature_id) -> Signature:
        signature = self.get_queryset().filter(pk=_int_or_404(signature_id)).first()
        if signature is None:
            raise Http404
        return signature

    @extend_schema(summary="Get a signature", responses=SignatureOut)
    def get(self, request, signature_id):
        return Response(SignatureOut(self._object(signature_id)).data)

    @extend_schema(summary="Delete a signature no template uses", responses={204: None})
    def delete(self, request, signature_id):
        services.signature_delete(tenant=self.tenant, actor=self.actor, signature=self._object(signature_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SignatureResubmitIn(serializers.Serializer):
    proofs = serializers.ListField(child=serializers.FileField(), required=False, default=list)
    authorisation = serializers.FileField(required=False, allow_null=True, default=None)


class SignatureResubmitView(TenantAPIView):
    model = Signature
    required_scopes = {"POST": "manage"}
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    serializer_class = SignatureOut

    @extend_schema(
        summary="Send a rejected signature back to review (optionally with new documents)",
        request={"multipart/form-data": SignatureResubmitIn},
        responses=SignatureOut,
    )
    def post(self, request, signature_id):
        signature = self.get_queryset().filter(pk=_int_or_404(signature_id)).first()
        if signature is None:
            raise Http404
        serializer = SignatureResubmitIn(data=request.data)
        serializer.is_valid(raise_exception=True)
        signature = services.signature_resubmit(
            tenant=self.tenant,
            actor=self.actor,
            signature=signature,
            proofs=serializer.validated_data["proofs"],
            authorisation=serializer.validated_data["authorisation"],
        )
        return Response(SignatureOut(signature).data)


class TemplateListView(TenantAPIView):
    model = MessageTemplate
    required_scopes = READ_MANAGE
    serializer_class = TemplateOut

    def filter_queryset_for_view(self, queryset):
        queryset = queryset.select_related("signature", "approved_version").order_by("name")
        kind = self.request.query_params.get("kind")
        return queryset.filter(kind=kind) if kind else queryset

    @extend_schema(summary="List templates", responses=TemplateOut(many=True))
    def get(self, request):
        return Response(TemplateOut(self.get_queryset(), many=True).data)

    @extend_schema(summary="Create a template (version 1 as a draft)", request=TemplateIn, responses={201: TemplateOut})
    def post(self, request):
        serializer = TemplateIn(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        template = services.template_create(
            tenant=self.tenant,
            actor=self.actor,
            name=values["name"],
            kind=values["kind"],
            signature_id=values["signature_id"],
            body=values["body"],
            variables=[dict(v) for v in values["variables"]],
            is_rich=values["is_rich"],
            title=values["title"],
        )
        return Response(TemplateOut(template).data, status=status.HTTP_201_CREATED)


class _TemplateObjectMixin:
    def _template(self, template_id) -> MessageTemplate:
        template = (
            self.get_queryset()
            .select_related("signature", "approved_version")
            .filter(pk=_int_or_404(template_id))
            .first()
        )
        if template is None:
            raise Http404
        return template


class TemplateDetailView(_TemplateObjectMixin, TenantAPIView):
    model = MessageTemplate
    required_scopes = READ_MANAGE
    serializer_class = TemplateOut

    @extend_schema(summary="Get a template with its approved and latest versions", responses=TemplateOut)
    def get(self, request, template_id):
        return Response(TemplateOut(self._template(template_id)).data)

    @extend_schema(
        summary="Edit: changes the open draft, or starts a new draft version (the approved one stays in force)",
        request=TemplateEditIn,
        responses=VersionOut,
    )
    def patch(self, request, template_id):
        template = self._template(template_id)
        serializer = TemplateEditIn(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        version = services.template_edit(
            tenant=self.tenant,
            actor=self.actor,
            template=template,
            body=values.get("body"),
            variables=[dict(v) for v in values["variables"]] if "variables" in values else None,
            title=values.get("title"),
            signature_id=values.get("signature_id"),
        )
        return Response(VersionOut(version).data)

    @extend_schema(summary="Delete a template that was never approved", responses={204: None})
    def delete(self, request, template_id):
        services.template_delete(tenant=self.tenant, actor=self.actor, template=self._template(template_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TemplateVersionsView(_TemplateObjectMixin, TenantAPIView):
    model = MessageTemplate
    required_scopes = READ_MANAGE
    serializer_class = VersionOut

    @extend_schema(summary="All versions of a template, newest first", responses=VersionOut(many=True))
    def get(self, request, template_id):
        template = self._template(template_id)
        return Response(VersionOut(selectors.template_versions(tenant=self.tenant, template=template), many=True).data)


class TemplateVersionDetailView(_TemplateObjectMixin, TenantAPIView):
    model = MessageTemplate
    required_scopes = READ_MANAGE
    serializer_class = VersionOut

    def _version(self, template, number) -> TemplateVersion:
        version = selectors.template_versions(tenant=self.tenant, template=template).filter(number=_int_or_404(number))
        found = version.first()
        if found is None:
            raise Http404
        return found

    @extend_schema(summary="One version", responses=VersionOut)
    def get(self, request, template_id, number):
        return Response(VersionOut(self._version(self._template(template_id), number)).data)

    @extend_schema(
        summary="Edit a draft version in place (any other status: 409 version_immutable)",
        request=TemplateEditIn,
        responses=VersionOut,
    )
    def patch(self, request, template_id, number):
        template = self._template(template_id)
        version = self._version(template, number)
        if version.status != TemplateVersion.Status.DRAFT:
            raise Conflict(
                "version_immutable",
                _("Version %(n)s is %(status)s and cannot be changed; edit the template to start a new draft.")
                % {"n": version.number, "status": version.get_status_display()},
            )
        return TemplateDetailView.patch(self, request, template_id)


class TemplateSubmitView(_TemplateObjectMixin, TenantAPIView):
    model = MessageTemplate
    required_scopes = {"POST": "manage"}
    serializer_class = SubmitOut

    @extend_schema(
        summary="Submit the draft for review (automatic checks first)",
        request=None,
        responses={200: SubmitOut, 409: OpenApiResponse(description="no_draft / signature_rejected")},
    )
    def post(self, request, template_id):
        version = services.template_submit(tenant=self.tenant, actor=self.actor, template=self._template(template_id))
        return Response(
            {
                "status": version.status,
                "returned": version.status == TemplateVersion.Status.DRAFT,
                "version": VersionOut(version).data,
            }
        )


class TemplateWithdrawView(_TemplateObjectMixin, TenantAPIView):
    model = MessageTemplate
    required_scopes = {"POST": "manage"}
    serializer_class = VersionOut

    @extend_schema(summary="Withdraw the version under review back to draft", request=None, responses=VersionOut)
    def post(self, request, template_id):
        version = services.template_withdraw(tenant=self.tenant, actor=self.actor, template=self._template(template_id))
        return Response(VersionOut(version).data)


class TemplateFindingsView(_TemplateObjectMixin, TenantAPIView):
    model = MessageTemplate
    required_scopes = {"GET": "read"}
    serializer_class = CheckOut

    @extend_schema(summary="Findings of the latest version's last check", responses=CheckOut)
    def get(self, request, template_id):
        latest = selectors.template_latest_version(tenant=self.tenant, template=self._template(template_id))
        findings = latest.findings if latest else []
        return Response({"blocked": any(f["severity"] == "block" for f in findings), "findings": findings})


class TemplateCheckView(TenantAPIView):
    model = MessageTemplate
    required_scopes = {"POST": "read"}  # reads nothing back into the database
    serializer_class = CheckOut

    @extend_schema(summary="Run the rule engine on a draft body without saving", request=CheckIn, responses=CheckOut)
    def post(self, request):
        serializer = CheckIn(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        signature_name = ""
        if values.get("signature_id"):
            signature_name = _signature_name(self.tenant, values["signature_id"])
        findings = services.run_checks(
            tenant=self.tenant,
            kind=values["kind"],
            body=values["body"],
            variables=[dict(v) for v in values["variables"]],
            signature_name=signature_name,
        )
        return Response({"blocked": any(f["severity"] == "block" for f in findings), "findings": findings})


def _signature_name(tenant, signature_id) -> str:
    try:
        return selectors.signature_get(tenant=tenant, signature_id=signature_id).name
    except ServiceError:
        raise ServiceError("signature_not_found", _("No such signature."), field="signature_id", status=404)


class SegmentsView(TenantAPIView):
    model = MessageTemplate
    required_scopes = {"POST": "read"}
    serializer_class = SegmentsOut

    @extend_schema(
        summary="Count segments and the price per message for a text (signature included when given)",
        request=SegmentsIn,
        responses=SegmentsOut,
    )
    def post(self, request):
        serializer = SegmentsIn(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        text = values["text"]
        if values.get("signature_id"):
            text = signature_prefix(_signature_name(self.tenant, values["signature_id"])) + text
        counter = selectors.message_counter(tenant=self.tenant, kind=values["kind"], body=text, signature_name="")
        result = {
            "text": text,
            "encoding": counter.count.encoding,
            "characters": counter.count.characters,
            "segments": counter.count.segments,
            "unit_price": counter.unit_price,
            "price": counter.price,
        }
        return Response(SegmentsOut(result).data)
