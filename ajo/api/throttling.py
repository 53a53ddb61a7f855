"""Throttles keyed on the client address (ajo.client_ip), counted atomically in the shared
cache, that keep the API answering when the cache is down."""

import logging

from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle

from ajo.client_ip import client_ip

logger = logging.getLogger(__name__)


class _ClientThrottle(SimpleRateThrottle):
    """At most `num_requests` per `duration` for each client.

    Who: DRF's own `get_ident` takes the whole X-Forwarded-For header as the identity when its
    NUM_PROXIES is unset, so a client that sends a new header with each request is never
    throttled. The address comes from `ajo.client_ip` instead, behind the configured number of
    trusted proxies, like the login lockout and /metrics.

    How many: DRF keeps a list of request times that each request reads, extends and writes
    back; concurrent requests (gthread workers, several processes) all read the same list and
    all get through. Here each request is one atomic increment of a counter (Redis INCR), in a
    window that starts at the client's first request and lasts `duration`.

    The cache down: the request is let through and the error logged. A throttle must not turn
    a cache outage into an API outage.
    """

    def get_ident(self, request):
        return client_ip(request)

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        try:
            count = self._count(key)
            if count is None or count <= self.num_requests:
                return True
            started = self.cache.get(f"{key}:start")
        except Exception:
            logger.exception("throttle cache unavailable; letting the request through")
            return True
        now = self.timer()
        self._wait = self.duration if started is None else max(started + self.duration - now, 1)
        return False

    def _count(self, key: str) -> int | None:
        """This request's number in the client's current window (None: the cache is away)."""
        if self.cache.add(key, 1, timeout=self.duration):
            self.cache.set(f"{key}:start", self.timer(), timeout=self.duration)
            return 1
        try:
            return self.cache.incr(key)
        except ValueError:  # the window ended between add and incr: this one opens the next
            self.cache.add(key, 1, timeout=self.duration)
            return 1

    def wait(self):
        return getattr(self, "_wait", None)


class CacheTolerantScopedRateThrottle(ScopedRateThrottle, _ClientThrottle):
    """The rate of the view's `throttle_scope` (DEFAULT_THROTTLE_RATES), per client.
    (ScopedRateThrottle picks the rate from the view, then counts as _ClientThrottle does.)"""


class ChainReadThrottle(_ClientThrottle):
    """Group reads the database could not answer (they may read through to the node), per
    client: API_CHAIN_READ_RATE. Checked by the view on a miss only, so reads of indexed
    groups are never counted."""

    scope = "chain_read"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
