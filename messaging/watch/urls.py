"""Included from messaging/staff_urls.py (namespace `messaging_staff`)."""

from django.urls import path

from messaging.watch import views

urlpatterns = [
    path("health/", views.health, name="health"),
    path("health/run/", views.run_now, name="health_run"),
    path("incidents/", views.incidents, name="incidents"),
    path("incidents/<int:incident_id>/acknowledge/", views.incident_acknowledge, name="incident_acknowledge"),
    path("incidents/<int:incident_id>/resolve/", views.incident_resolve, name="incident_resolve"),
    path("channels/<int:channel_id>/codes/", views.channel_codes, name="channel_codes"),
    path(
        "channels/<int:channel_id>/codes/<int:mapping_id>/delete/",
        views.channel_code_delete,
        name="channel_code_delete",
    ),
]
