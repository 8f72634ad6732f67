from django.urls import path

from campaigns import views

app_name = "campaigns"

urlpatterns = [
    path("", views.campaign_index, name="index"),
    path("new/", views.campaign_new, name="new"),
    path("settings/", views.settings_edit, name="settings"),
    path("<int:campaign_id>/", views.campaign_detail, name="detail"),
    path("<int:campaign_id>/edit/", views.campaign_edit, name="edit"),
    path("<int:campaign_id>/review/", views.campaign_review_page, name="review"),
    path("<int:campaign_id>/test/", views.campaign_test, name="test_send"),
    path("<int:campaign_id>/action/<str:action>/", views.campaign_action, name="action"),
    path("<int:campaign_id>/progress/", views.campaign_progress, name="progress"),
    path("audience-size/", views.audience_size, name="audience_size"),
    path("lists/", views.list_index, name="lists"),
    path("lists/upload/", views.list_upload, name="list_upload"),
    path("lists/<int:list_id>/", views.list_detail, name="list_detail"),
    path("lists/<int:list_id>/delete/", views.list_delete, name="list_delete"),
    path("imports/<int:import_id>/", views.import_detail, name="import_detail"),
    path("imports/<int:import_id>/progress/", views.import_progress, name="import_progress"),
    path("imports/<int:import_id>/rejections.csv", views.import_rejections_csv, name="import_rejections"),
    path("s/<str:code>", views.short_link, name="short_link"),
]
