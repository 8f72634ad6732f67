from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from smsportal import views
from tenants.urls import staff_urlpatterns

PRODUCT_APPS = ["templates", "compliance", "billing", "messaging", "campaigns", "reports"]

api_v1 = [path("", include("tenants.api_urls"))] + [path("", include(f"{app}.api_urls")) for app in PRODUCT_APPS]

urlpatterns = [
    # First: Django tries the patterns in order, and the API is the busiest prefix.
    path("api/v1/", include(api_v1)),
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("allauth.urls")),
    path("tenant/", include("tenants.urls")),
    path("staff/", include(staff_urlpatterns)),
    *[path(f"{app}/", include(f"{app}.urls")) for app in PRODUCT_APPS],
    *[path(f"staff/{app}/", include(f"{app}.staff_urls")) for app in PRODUCT_APPS],
    path(
        "api/v1/schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="api-schema",
    ),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="api-schema", authentication_classes=[], permission_classes=[]),
        name="api-docs",
    ),
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(url_name="api-schema", authentication_classes=[], permission_classes=[]),
        name="api-redoc",
    ),
]

if settings.DEBUG:
    urlpatterns.append(path("django-admin/", admin.site.urls))
