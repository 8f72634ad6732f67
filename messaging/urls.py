from django.urls import include, path

from messaging import views

app_name = "messaging"

urlpatterns: list = [
    path("messages/", views.message_log, name="messages"),
    path("messages/<int:message_id>/", views.message_detail, name="message"),
    path("send-test/", views.send_test, name="send_test"),
    path("inbox/", views.inbox, name="inbox"),
    path("webhooks/", include("messaging.webhooks.urls")),  # tenant status webhooks (messaging.webhooks)
]
