"""Throttles keyed on the client address (ajo.client_ip) that keep the API answering when the
cache behind them is down."""

import logging

from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle

from ajo.client_ip import client_ip

logger = logging.getLogger(__name__)


class _ClientThrottle:
    """Who a request comes from, and what happens when the cache cannot say how often.

    DRF's own `get_ident` takes the whole X-Forwarded-For header as the identity when its
    NUM_PROXIES is unset: a client that sends a new header with each request is never
    throttled. The address comes from `ajo.client_ip` instead, behind the configured number
    of trusted proxies, like the login lockout and /metrics.

    The history lives in the Django cache (Redis in production). If the cache cannot be
    reached, the request is let through and the error logged: a throttle must not turn a cache
    outage into an API outage.
    """

    def get_ident(self, request):
        return client_ip(request)

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except Exception:
            logger.exception("throttle cache unavailable; letting the request through")
            return True


class CacheTolerantScopedRateThrottle(_ClientThrottle, ScopedRateThrottle):
    """The rate of the view's `throttle_scope` (DEFAULT_THROTTLE_RATES), per client."""


class ChainReadThrottle(_ClientThrottle, SimpleRateThrottle):
    """Group reads the database could not answer (they may read through to the node), per
    client: API_CHAIN_READ_RATE. Checked by the view on a miss only, so reads of indexed
    groups are never counted."""

    scope = "chain_read"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
