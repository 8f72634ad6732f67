from django.urls import path

from compliance import api

urlpatterns = [
    path("consents/", api.ConsentListCreate.as_view(), name="api-compliance-consents"),
    path("consents/revoke/", api.ConsentRevoke.as_view(), name="api-compliance-consent-revoke"),
    path("suppressions/", api.SuppressionListCreate.as_view(), name="api-compliance-suppressions"),
    path("suppressions/remove/", api.SuppressionRemove.as_view(), name="api-compliance-suppression-remove"),
    path("suppressions/check/", api.SuppressionCheck.as_view(), name="api-compliance-suppression-check"),
    path("complaints/", api.ComplaintList.as_view(), name="api-compliance-complaints"),
    path("staff/complaints/", api.StaffComplaintCreate.as_view(), name="api-staff-complaints"),
]
