from django.urls import path

from campaigns import staff_views

app_name = "campaigns_staff"

urlpatterns = [
    path("", staff_views.campaign_board, name="board"),
    path("<int:campaign_id>/pause/", staff_views.campaign_pause_now, name="pause"),
]
