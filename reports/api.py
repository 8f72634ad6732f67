from __future__ import annotations

from django.http import FileResponse, Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from reports import selectors
from reports.models import QualityReport
from reports.selectors import DIMENSION_FIELDS, Period
from tenants.api_base import TenantAPIView

MAX_DAYS = 366


class StatsQuery(serializers.Serializer):
    start = serializers.DateField(help_text="first day, in the tenant's time zone")
    end = serializers.DateField(help_text="last day (inclusive)")
    dimension = serializers.ChoiceField(choices=sorted(DIMENSION_FIELDS), required=False)

    def validate(self, data):
        if data["start"] > data["end"]:
            raise serializers.ValidationError({"end": ["end is before start"]})
        if (data["end"] - data["start"]).days > MAX_DAYS:
            raise serializers.ValidationError({"end": ["at most 366 days"]})
        return data


def _totals_json(t: selectors.Totals) -> dict:
    return {
        "sent": t.accepted,
        "rejected": t.rejected,
        "submitted": t.submitted,
        "delivered": t.delivered,
        "failed": t.failed,
        "expired": t.expired,
        "delivery_rate": t.delivery_rate,
        "segments": t.segments,
        "cost": str(t.cost),
        "arrival_p50": t.p50,
        "arrival_p95": t.p95,
        "arrival_p99": t.p99,
    }


class TotalsSerializer(serializers.Serializer):
    sent = serializers.IntegerField()
    rejected = serializers.IntegerField()
    submitted = serializers.IntegerField()
    delivered = serializers.IntegerField()
    failed = serializers.IntegerField()
    expired = serializers.IntegerField()
    delivery_rate = serializers.FloatField(allow_null=True)
    segments = serializers.IntegerField()
    cost = serializers.DecimalField(max_digits=16, decimal_places=4)
    arrival_p50 = serializers.FloatField(allow_null=True, help_text="seconds, accepted → delivered")
    arrival_p95 = serializers.FloatField(allow_null=True)
    arrival_p99 = serializers.FloatField(allow_null=True)


class StatsRowSerializer(TotalsSerializer):
    value = serializers.CharField(allow_null=True, help_text="the dimension's value (carrier code, province, id…)")


class StatsResponseSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    totals = TotalsSerializer()
    failures = serializers.DictField(child=serializers.IntegerField(), help_text="failure reason → count")
    dimension = serializers.CharField(required=False)
    rows = StatsRowSerializer(many=True, required=False)


class StatsView(TenantAPIView):
    """Statistics for a period, in total and optionally by one dimension (from rollups)."""

    model = QualityReport  # the base class needs a tenant-owned model; stats read rollups
    required_scopes = {"GET": "read"}

    @extend_schema(
        parameters=[StatsQuery], responses=StatsResponseSerializer, summary="Statistics by period and dimension"
    )
    def get(self, request):
        query = StatsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        period = Period.days(self.tenant, data["start"], data["end"])
        body = {
            "start": data["start"],
            "end": data["end"],
            "totals": _totals_json(selectors.totals(tenant=self.tenant, period=period)),
            "failures": dict(selectors.failures(tenant=self.tenant, period=period)),
        }
        if data.get("dimension"):
            body["dimension"] = data["dimension"]
            body["rows"] = [
                {"value": value, **_totals_json(t)}
                for value, t in selectors.breakdown(tenant=self.tenant, period=period, dimension=data["dimension"])
            ]
        return Response(body)


class ReportSerializer(serializers.ModelSerializer):
    month = serializers.SerializerMethodField()

    class Meta:
        model = QualityReport
        fields = ["id", "kind", "month", "pages", "summary", "generated_at", "emailed_at"]

    def get_month(self, report) -> str:
        return f"{report.period_start:%Y-%m}"


class ReportListView(TenantAPIView):
    model = QualityReport
    serializer_class = ReportSerializer
    required_scopes = {"GET": "read"}

    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ReportSerializer(page, many=True).data)


class ReportPdfView(TenantAPIView):
    model = QualityReport
    required_scopes = {"GET": "read"}

    @extend_schema(responses={(200, "application/pdf"): bytes}, summary="Download a report PDF")
    def get(self, request, report_id: int):
        report = self.get_queryset().filter(pk=report_id).first()
        if report is None or not report.pdf:
            raise Http404
        return FileResponse(
            report.pdf.open("rb"),
            as_attachment=True,
            content_type="application/pdf",
            filename=f"quality-{self.tenant.slug}-{report.period_start:%Y-%m}.pdf",
        )
