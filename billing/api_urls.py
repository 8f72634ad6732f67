from django.urls import path

from billing import api

urlpatterns = [
    path("billing/balance", api.BalanceView.as_view(), name="api-billing-balance"),
    path("billing/ledger", api.LedgerView.as_view(), name="api-billing-ledger"),
    path("billing/price-plan", api.PricePlanView.as_view(), name="api-billing-price-plan"),
    path("billing/estimate", api.EstimateView.as_view(), name="api-billing-estimate"),
    path("billing/statements", api.StatementListView.as_view(), name="api-billing-statements"),
    path(
        "billing/statements/<int:year>/<int:month>",
        api.StatementDetailView.as_view(),
        name="api-billing-statement",
    ),
    path(
        "billing/statements/<int:year>/<int:month>/pdf",
        api.StatementPdfView.as_view(),
        name="api-billing-statement-pdf",
    ),
]
