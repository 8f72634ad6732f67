from django.urls import path

from compliance import staff_views

app_name = "compliance_staff"

urlpatterns = [
    path("", staff_views.overview, name="overview"),
    path("tenants/<int:tenant_id>/resume/", staff_views.marketing_resume, name="resume"),
    path("tenants/<int:tenant_id>/limits/", staff_views.tenant_limits, name="tenant_limits"),
    path("suppressions/", staff_views.platform_suppressions, name="suppressions"),
    path("complaints/", staff_views.complaints, name="complaints"),
    path("complaints/new/", staff_views.complaint_new, name="complaint_new"),
    path("complaints/<int:complaint_id>/", staff_views.complaint_detail, name="complaint_detail"),
    path("settings/", staff_views.platform_settings, name="settings"),
    path("audit/", staff_views.audit_log, name="audit"),
    path("audit/export.csv", staff_views.audit_export, name="audit_export"),
]
