from django.urls import path

from reports import views

app_name = "reports"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("monthly/", views.monthly_list, name="monthly"),
    path("monthly/generate/", views.monthly_generate, name="monthly_generate"),
    path("monthly/recipients/", views.recipients_update, name="recipients"),
    path("monthly/<int:report_id>/pdf/", views.monthly_pdf, name="monthly_pdf"),
    path("scorecard/", views.scorecard, name="scorecard"),
]
