"""The WSGI application (gunicorn, runserver).

Each worker imports every view up front and then freezes its start-up heap out of the
garbage collector's reach (`gc.freeze`): a full collection walked all of Django, DRF and
the URL conf every time, 90–180 ms measured in a web worker under API load — long enough,
taken between a send's reservation and its commit, to stall every other send of the tenant
behind its account row (a p99 of 50–75 ms at 200 requests/s; 26 ms with the heap frozen).

A request to the API that carries an API key and no cookie is served with the API's own,
shorter middleware list (`settings.API_KEY_MIDDLEWARE`): sessions, CSRF, messages, allauth,
htmx and the portal's tenant and two-factor middleware have nothing to do for it — the key
decides the tenant — and cost a send 0.2–0.3 ms of its 3–4 ms of Python (measured
in-process). Everything else, a browser calling the API with its session included, goes
through the full `settings.MIDDLEWARE`.
"""

import gc
import os

from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsportal.settings")
portal_application = get_wsgi_application()

from django.conf import settings  # noqa: E402  (configured by the line above)


class ApiKeyHandler(WSGIHandler):
    def load_middleware(self, is_async=False):
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_KEY_MIDDLEWARE  # only while the chain is built, at start-up
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


api_key_application = ApiKeyHandler()


def is_api_key_request(environ) -> bool:
    return (
        environ.get("PATH_INFO", "").startswith("/api/v1/")
        and ("HTTP_AUTHORIZATION" in environ or "HTTP_X_API_KEY" in environ)
        and "HTTP_COOKIE" not in environ
    )


def application(environ, start_response):
    handler = api_key_application if is_api_key_request(environ) else portal_application
    return handler(environ, start_response)


def _freeze_startup_heap() -> None:
    from django.urls import get_resolver

    _patterns = get_resolver().url_patterns  # imports every view module now, not on the first request
    gc.collect()
    gc.freeze()


_freeze_startup_heap()
