from django.urls import path

from reports import views

app_name = "reports_staff"

urlpatterns = [
    path("", views.staff_overview, name="overview"),
]
