"""Request ids (X-Request-ID, on every log line) and the per-path Content-Security-Policy."""

from __future__ import annotations

import re
import uuid

from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from csp.middleware import PolicyParts
from django.conf import settings
from django.core.signals import request_finished

from ajo.logging import request_id_var

HEADER = "X-Request-ID"
# An incoming id is kept only if it is a short plain token (a UUID, a trace id, a proxy's id):
# anything else could forge log lines or blow up log storage, so it is replaced.
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def request_id_from(value: str | None) -> str:
    """The caller's id when it is a sane token, else a fresh one."""
    if value and _SANE_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """First in MIDDLEWARE, so everything after it (and Django's own request logging) sees it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_from(request.headers.get(HEADER))
        request.request_id = request_id
        # Not reset on the way out: Django logs 4xx/5xx responses and gunicorn writes the access
        # line after this returns. It is cleared when the response is closed (below).
        request_id_var.set(request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        return response


def _clear_request_id(**kwargs) -> None:
    request_id_var.set(None)


request_finished.connect(_clear_request_id, dispatch_uid="ajo.middleware.clear_request_id")


class CSPMiddleware(BaseCSPMiddleware):
    """django-csp's middleware, plus the extra sources CSP_PATH_UPDATES grants by path prefix.

    The admin and the Swagger UI are third-party pages that cannot be given nonces; each gets
    only what it needs while the rest of the site keeps the strict policy.
    """

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only=report_only)
        if parts.update is None:
            for prefix, update in getattr(settings, "CSP_PATH_UPDATES", {}).items():
                if request.path_info.startswith(prefix):
                    parts.update = update
                    break
        return parts
