from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("ledger/", views.ledger, name="ledger"),
    path("prices/", views.prices, name="prices"),
    path("statements/", views.statement_list, name="statements"),
    path("statements/<int:year>/<int:month>/", views.statement_detail, name="statement"),
    path("statements/<int:year>/<int:month>/pdf/", views.statement_pdf, name="statement_pdf"),
    path("charges/<int:year>/<int:month>/csv/", views.charges_csv, name="charges_csv"),
]
