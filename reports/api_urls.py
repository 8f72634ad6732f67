from django.urls import path

from reports import api

urlpatterns = [
    path("stats", api.StatsView.as_view(), name="api-reports-stats"),
    path("reports", api.ReportListView.as_view(), name="api-reports-list"),
    path("reports/<int:report_id>/pdf", api.ReportPdfView.as_view(), name="api-reports-pdf"),
]
