from django.urls import path

from templates import api

urlpatterns = [
    path("signatures", api.SignatureListView.as_view(), name="api-templates-signatures"),
    path("signatures/<str:signature_id>", api.SignatureDetailView.as_view(), name="api-templates-signature"),
    path(
        "signatures/<str:signature_id>/resubmit",
        api.SignatureResubmitView.as_view(),
        name="api-templates-signature-resubmit",
    ),
    path("templates", api.TemplateListView.as_view(), name="api-templates-list"),
    path("templates/check", api.TemplateCheckView.as_view(), name="api-templates-check"),
    path("templates/segments", api.SegmentsView.as_view(), name="api-templates-segments"),
    path("templates/<str:template_id>", api.TemplateDetailView.as_view(), name="api-templates-detail"),
    path("templates/<str:template_id>/versions", api.TemplateVersionsView.as_view(), name="api-templates-versions"),
    path(
        "templates/<str:template_id>/versions/<str:number>",
        api.TemplateVersionDetailView.as_view(),
        name="api-templates-version",
    ),
    path("templates/<str:template_id>/submit", api.TemplateSubmitView.as_view(), name="api-templates-submit"),
    path("templates/<str:template_id>/withdraw", api.TemplateWithdrawView.as_view(), name="api-templates-withdraw"),
    path("templates/<str:template_id>/findings", api.TemplateFindingsView.as_view(), name="api-templates-findings"),
]
