"""Billing API: balance, ledger, price plan, estimate, statements. Read scope throughout."""

from __future__ import annotations

from datetime import date

from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from billing import pricing, selectors
from billing.models import RICH, Account, LedgerEntry, LedgerKind, Statement
from smsportal.enums import MessageClass
from tenants.api_base import TenantAPIView

READ = {"GET": "read", "POST": "read"}


class BalanceSerializer(serializers.Serializer):
    currency = serializers.CharField()
    balance = serializers.DecimalField(max_digits=16, decimal_places=4)
    reserved = serializers.DecimalField(max_digits=16, decimal_places=4)
    credit_limit = serializers.DecimalField(max_digits=16, decimal_places=4)
    spendable = serializers.DecimalField(max_digits=16, decimal_places=4, help_text="balance + credit limit")
    low_balance_threshold = serializers.DecimalField(max_digits=16, decimal_places=4, allow_null=True)
    is_low = serializers.BooleanField()


class BalanceView(TenantAPIView):
    """The prepaid balance (available, after amounts reserved for messages in flight)."""

    model = Account
    required_scopes = READ

    @extend_schema(responses=BalanceSerializer, summary="Balance", tags=["billing"])
    def get(self, request):
        account = selectors.account_for(tenant=self.tenant)
        data = {
            "currency": "CNY",
            "balance": account.balance,
            "reserved": account.reserved,
            "credit_limit": account.credit_limit,
            "spendable": account.balance + account.credit_limit,
            "low_balance_threshold": account.low_balance_threshold,
            "is_low": account.is_low,
        }
        return Response(BalanceSerializer(data).data)


class LedgerEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "kind",
            "amount",
            "occurred_at",
            "message_id",
            "message_class",
            "segments",
            "pricing",
            "reference",
            "reason",
        ]


class LedgerFilterSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=LedgerKind.choices, required=False)
    since = serializers.DateField(required=False, help_text="inclusive, tenant-local date")
    until = serializers.DateField(required=False, help_text="exclusive, tenant-local date")


class LedgerPagination(CursorPagination):
    ordering = ("-occurred_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class LedgerView(TenantAPIView):
    """Ledger entries, newest first, cursor-paginated."""

    model = LedgerEntry
    required_scopes = READ
    serializer_class = LedgerEntrySerializer
    pagination_class = LedgerPagination

    def filter_queryset_for_view(self, queryset):
        params = LedgerFilterSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        if data.get("kind"):
            queryset = queryset.filter(kind=data["kind"])
        zone = pricing.tenant_zone(self.tenant)
        from datetime import datetime, time

        if data.get("since"):
            queryset = queryset.filter(occurred_at__gte=datetime.combine(data["since"], time.min, zone))
        if data.get("until"):
            queryset = queryset.filter(occurred_at__lt=datetime.combine(data["until"], time.min, zone))
        return queryset

    @extend_schema(
        parameters=[LedgerFilterSerializer],
        responses=LedgerEntrySerializer(many=True),
        summary="Ledger entries",
        tags=["billing"],
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(LedgerEntrySerializer(page, many=True).data)


class TierSerializer(serializers.Serializer):
    tier = serializers.IntegerField()
    first_segment = serializers.IntegerField()
    last_segment = serializers.IntegerField(allow_null=True, help_text="null: no upper bound")
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=4)


class PricePlanSerializer(serializers.Serializer):
    plan = serializers.CharField()
    currency = serializers.CharField()
    month = serializers.CharField(help_text="YYYY-MM, tenant time zone")
    delivered_segments = serializers.IntegerField(help_text="delivered billable segments this month so far")
    current_tier = serializers.IntegerField()
    tiers = serializers.DictField(
        child=TierSerializer(many=True), help_text='price tables by message class; "all" for every other class'
    )
    rich_message_price = serializers.DecimalField(max_digits=10, decimal_places=4)
    monthly_fee = serializers.DecimalField(max_digits=10, decimal_places=4)
    monthly_minimum = serializers.DecimalField(max_digits=10, decimal_places=4)
    free = serializers.ListField(child=serializers.CharField())


class PricePlanView(TenantAPIView):
    """The price plan in force, its tiers, and where this month's volume stands."""

    model = Account
    required_scopes = READ

    @extend_schema(responses=PricePlanSerializer, summary="Price plan in force", tags=["billing"])
    def get(self, request):
        overview = selectors.price_overview(tenant=self.tenant)
        prices = overview.prices
        return Response(
            {
                "plan": overview.plan.name,
                "currency": "CNY",
                "month": overview.month.strftime("%Y-%m"),
                "delivered_segments": overview.delivered_segments,
                "current_tier": overview.current_tier,
                "tiers": {
                    message_class or "all": [
                        {"tier": b.number, "first_segment": b.first, "last_segment": b.last, "unit_price": str(b.price)}
                        for b in bands
                    ]
                    for message_class, bands in prices.tables.items()
                },
                "rich_message_price": str(prices.rich_price),
                "monthly_fee": str(prices.monthly_fee),
                "monthly_minimum": str(prices.monthly_minimum),
                "free": ["api_access", "account_management", "failed_messages"],
            }
        )


class EstimateSerializer(serializers.Serializer):
    message_class = serializers.ChoiceField(choices=[*MessageClass.values, RICH])
    text = serializers.CharField(
        required=False,
        allow_blank=False,
        max_length=2000,
        trim_whitespace=False,
        help_text="the full text as the handset receives it, 【signature】 included",
    )
    segments = serializers.IntegerField(required=False, min_value=1, max_value=20)
    count = serializers.IntegerField(required=False, min_value=1, max_value=10_000_000, default=1)

    def validate(self, data):
        if "text" not in data and "segments" not in data and data["message_class"] != RICH:
            raise serializers.ValidationError({"text": [_("Give the full text or the number of segments.")]})
        return data


class EstimateResultSerializer(serializers.Serializer):
    message_class = serializers.CharField()
    segments = serializers.IntegerField()
    encoding = serializers.CharField(allow_null=True)
    count = serializers.IntegerField()
    estimate = serializers.DecimalField(max_digits=16, decimal_places=4)
    reserve = serializers.DecimalField(max_digits=16, decimal_places=4)
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=4)
    balance = serializers.DecimalField(max_digits=16, decimal_places=4)
    shortfall = serializers.DecimalField(max_digits=16, decimal_places=4)


class EstimateView(TenantAPIView):
    """What sending would cost: `estimate` at this month's graduated prices, `reserve` what
    accepting holds from the balance (highest tier), and any `shortfall`."""

    model = Account
    required_scopes = READ

    @extend_schema(
        request=EstimateSerializer, responses=EstimateResultSerializer, summary="Estimate a cost", tags=["billing"]
    )
    def post(self, request):
        params = EstimateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        encoding = None
        if "text" in data:
            from templates.segments import count_segments

            counted = count_segments(data["text"])
            segments, encoding = counted.segments, counted.encoding
        else:
            segments = data.get("segments", 1)
        tenant, message_class, count = self.tenant, data["message_class"], data["count"]
        reserve = pricing.estimate(
            tenant=tenant, message_class=message_class, segments=segments, count=count, basis="reserve"
        )
        result = {
            "message_class": message_class,
            "segments": segments,
            "encoding": encoding,
            "count": count,
            "estimate": pricing.estimate(tenant=tenant, message_class=message_class, segments=segments, count=count),
            "reserve": reserve,
            "unit_price": pricing.unit_price(tenant=tenant, message_class=message_class),
            "balance": selectors.account_balance(tenant=tenant),
            "shortfall": selectors.shortfall(tenant=tenant, amount=reserve),
        }
        return Response(EstimateResultSerializer(result).data)


class StatementSerializer(serializers.ModelSerializer):
    month = serializers.SerializerMethodField()
    pdf_url = serializers.SerializerMethodField()

    class Meta:
        model = Statement
        fields = [
            "month",
            "opening_balance",
            "top_ups_total",
            "charges_total",
            "refunds_total",
            "adjustments_total",
            "fees_total",
            "reserved_change",
            "closing_balance",
            "messages_total",
            "segments_total",
            "lines",
            "revision",
            "generated_at",
            "pdf_url",
        ]

    def get_month(self, obj) -> str:
        return obj.period.strftime("%Y-%m")

    def get_pdf_url(self, obj) -> str:
        return reverse("api-billing-statement-pdf", kwargs={"year": obj.period.year, "month": obj.period.month})


class StatementListView(TenantAPIView):
    model = Statement
    required_scopes = READ
    serializer_class = StatementSerializer

    class Pagination(CursorPagination):
        ordering = "-period"
        page_size = 24

    pagination_class = Pagination

    def filter_queryset_for_view(self, queryset):
        return queryset.defer("pdf")

    @extend_schema(responses=StatementSerializer(many=True), summary="Monthly statements", tags=["billing"])
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(StatementSerializer(page, many=True).data)


def _statement(view, year: int, month: int) -> Statement:
    try:
        period = date(year, month, 1)
    except ValueError:
        raise Http404 from None
    statement = view.get_queryset().filter(period=period).first()
    if statement is None:
        raise Http404
    return statement


class StatementDetailView(TenantAPIView):
    model = Statement
    required_scopes = READ

    @extend_schema(responses=StatementSerializer, summary="One monthly statement", tags=["billing"])
    def get(self, request, year: int, month: int):
        return Response(StatementSerializer(_statement(self, year, month)).data)


class StatementPdfView(TenantAPIView):
    model = Statement
    required_scopes = READ

    @extend_schema(
        responses={(200, "application/pdf"): OpenApiTypes.BINARY},
        parameters=[OpenApiParameter("year", int, OpenApiParameter.PATH)],
        summary="Statement PDF",
        tags=["billing"],
    )
    def get(self, request, year: int, month: int):
        statement = _statement(self, year, month)
        response = HttpResponse(bytes(statement.pdf), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="statement-{statement.period:%Y-%m}.pdf"'
        return response
