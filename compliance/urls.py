from django.urls import path

from compliance import views

app_name = "compliance"

urlpatterns = [
    path("", views.consent_list, name="consents"),
    path("consents/new/", views.consent_new, name="consent_new"),
    path("consents/<int:record_id>/evidence/", views.consent_evidence, name="consent_evidence"),
    path("imports/new/", views.import_new, name="import_new"),
    path("imports/<int:import_id>/", views.import_detail, name="import_detail"),
    path("imports/<int:import_id>/progress/", views.import_progress, name="import_progress"),
    path("numbers/<str:ref>/", views.number_detail, name="number"),
    path("numbers/<str:ref>/proof.pdf", views.number_proof_pdf, name="number_proof"),
    path("suppressions/", views.suppression_list, name="suppressions"),
    path("complaints/", views.complaint_list, name="complaints"),
    path("complaints/new/", views.complaint_new, name="complaint_new"),
    path("complaints/<int:complaint_id>/", views.complaint_detail, name="complaint_detail"),
    path("settings/", views.compliance_settings, name="settings"),
    path("audit/", views.audit_log, name="audit"),
    path("audit/export.csv", views.audit_export, name="audit_export"),
]
