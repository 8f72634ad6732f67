from django.urls import path

from templates import staff_views

app_name = "templates_staff"

urlpatterns = [
    path("", staff_views.queue, name="queue"),
    path("words/", staff_views.platform_words, name="words_platform"),
    path("cases/<int:case_id>/", staff_views.case_detail, name="case"),
    path("cases/<int:case_id>/approve/", staff_views.case_approve, name="approve"),
    path("cases/<int:case_id>/reject/", staff_views.case_reject, name="reject"),
    path("cases/<int:case_id>/words/", staff_views.tenant_words, name="words"),
    path("documents/<int:document_id>/", staff_views.document, name="document"),
    path("licences/<int:verification_id>/", staff_views.licence, name="licence"),
    path("frames/<int:frame_id>/", staff_views.frame_image, name="frame_image"),
]
