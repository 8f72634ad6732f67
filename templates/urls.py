from django.urls import path

from templates import views

app_name = "templates"

urlpatterns = [
    path("", views.template_list, name="list"),
    path("new/", views.template_create, name="create"),
    path("counter/", views.counter, name="counter"),
    path("check/", views.live_check, name="check"),
    path("<int:template_id>/", views.template_detail, name="detail"),
    path("<int:template_id>/edit/", views.template_edit, name="edit"),
    path("<int:template_id>/submit/", views.template_submit, name="submit"),
    path("<int:template_id>/withdraw/", views.template_withdraw, name="withdraw"),
    path("<int:template_id>/fix/", views.template_apply_fix, name="fix"),
    path("<int:template_id>/delete/", views.template_delete, name="delete"),
    path("<int:template_id>/frames/", views.frame_add, name="frame_add"),
    path("<int:template_id>/frames/<int:position>/", views.frame_change, name="frame_change"),
    path("frames/<int:frame_id>/image/", views.frame_image, name="frame_image"),
    path("signatures/", views.signature_list, name="signatures"),
    path("signatures/<int:signature_id>/resubmit/", views.signature_resubmit, name="signature_resubmit"),
    path("signatures/<int:signature_id>/delete/", views.signature_delete, name="signature_delete"),
    path("signatures/documents/<int:document_id>/", views.signature_document, name="signature_document"),
    path("verification/", views.verification, name="verification"),
    path("verification/licence/", views.verification_licence, name="verification_licence"),
]
