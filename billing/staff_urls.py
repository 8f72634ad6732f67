from django.urls import path

from billing import views

app_name = "billing_staff"

urlpatterns = [
    path("", views.staff_accounts, name="accounts"),
    path("check/", views.staff_ledger_check, name="check"),
    path("plans/", views.staff_plans, name="plans"),
    path("tenants/<int:tenant_id>/", views.staff_account, name="account"),
    path(
        "tenants/<int:tenant_id>/statements/<int:year>/<int:month>/pdf/",
        views.staff_statement_pdf,
        name="statement_pdf",
    ),
]
