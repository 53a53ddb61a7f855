"""Throttles that keep the API answering when the cache behind them is down."""

import logging

from rest_framework.throttling import ScopedRateThrottle

logger = logging.getLogger(__name__)


class CacheTolerantScopedRateThrottle(ScopedRateThrottle):
    """ScopedRateThrottle whose history lives in the Django cache (Redis in production).

    If the cache cannot be reached, the request is let through and the error logged: a
    throttle must not turn a cache outage into an API outage.
    """

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except Exception:
            logger.exception("throttle cache unavailable; letting the request through")
            return True
