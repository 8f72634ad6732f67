from django.urls import include, path

from messaging import staff_views

app_name = "messaging_staff"

urlpatterns: list = [
    path("", staff_views.channel_list, name="channels"),
    path("channels/new/", staff_views.channel_create, name="channel_create"),
    path("channels/<int:channel_id>/", staff_views.channel_edit, name="channel"),
    path("channels/<int:channel_id>/toggle/", staff_views.channel_toggle, name="channel_toggle"),
    path("channels/<int:channel_id>/breaker-reset/", staff_views.channel_breaker_reset, name="channel_breaker_reset"),
    path("routing/", staff_views.routing, name="routing"),
    path("", include("messaging.watch.urls")),
    path(
        "", include("messaging.smpp.urls")
    ),  # SMPP reviews (messaging.smpp)  # health, incidents, HTTP code mapping (messaging.watch)
]
