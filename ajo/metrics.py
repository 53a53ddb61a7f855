"""Prometheus metrics for the web process: requests by route and status, latency, cache hits.

Under gunicorn (gunicorn.conf.py sets PROMETHEUS_MULTIPROC_DIR) every worker writes its values
to files and /metrics adds them up, so one scrape covers all workers. Without that variable
(runserver, tests) the process's default registry is served.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import time
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ajo.chainreads import cache_stats
from ajo.client_ip import client_ip

logger = logging.getLogger(__name__)

REQUESTS = Counter(
    "ajo_http_requests",
    "HTTP responses by route name, method and status code.",
    ["view", "method", "status"],
)
LATENCY = Histogram(
    "ajo_http_request_duration_seconds",
    "Time from the request entering Django to the response leaving it, by route name.",
    ["view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

API_CACHE = Counter(
    "ajo_api_cache",
    "API GET answers by how the response cache served them (hit, miss: computed and stored, "
    "not_modified: a 304, uncached: computed and not stored) and by what they show (index, "
    "or chain_view: rows read from the contract's view functions ahead of the sync).",
    ["result", "source"],
)

# Label values stay a small fixed set whatever clients send.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def view_label(request: HttpRequest) -> str:
    """The URL pattern's name (e.g. `api:group-detail`), never the raw path."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.view_name or match._func_path
    if request.path_info.startswith("/" + settings.STATIC_URL.lstrip("/")):
        return "static"
    return "unmatched"


class MetricsMiddleware:
    """Counts and times every response. Sits right after RequestIdMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        view = view_label(request)
        method = request.method if request.method in _METHODS else "other"
        REQUESTS.labels(view=view, method=method, status=str(response.status_code)).inc()
        LATENCY.labels(view=view).observe(time.perf_counter() - started)
        return response


class CacheStatsCollector(Collector):
    """Chain-read cache hits and misses, read at scrape time.

    The counts live in the shared Django cache (ajo.chainreads.cache_stats), so they already
    cover every worker and every web replica; reading them per scrape avoids double counting.
    """

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        try:
            stats = cache_stats()
        except Exception:  # a scrape must not fail because the cache is down
            logger.warning("cache stats unavailable for /metrics", exc_info=True)
            return
        available = stats.get("available", True) and stats.get("hits") is not None
        yield GaugeMetricFamily(
            "ajo_cache_available", "1 when the shared cache answered this scrape.", value=available
        )
        if not available:
            return
        hits, misses = int(stats["hits"]), int(stats["misses"])
        yield CounterMetricFamily(
            "ajo_cache_hits", "Chain reads answered from the database/cache.", value=hits
        )
        yield CounterMetricFamily(
            "ajo_cache_misses", "Chain reads that had to call the chain.", value=misses
        )
        total = hits + misses
        yield GaugeMetricFamily(
            "ajo_cache_hit_ratio",
            "hits / (hits + misses) since the counts were last reset; 0 before any read.",
            value=hits / total if total else 0.0,
        )


def api_cache_stats() -> dict[str, dict[str, int]]:
    """{source: {result: count}} of ajo_api_cache_total, over every worker of this host (the
    multiprocess files under gunicorn, this process otherwise): for the admin dashboard."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    stats: dict[str, dict[str, int]] = {}
    for metric in registry.collect():
        if metric.name != "ajo_api_cache":
            continue
        for sample in metric.samples:
            if sample.name != "ajo_api_cache_total":
                continue
            by_result = stats.setdefault(sample.labels["source"], {})
            result = sample.labels["result"]
            by_result[result] = by_result.get(result, 0) + int(sample.value)
    return stats


def scrape() -> bytes:
    """The Prometheus text exposition for this web deployment."""
    extra = CollectorRegistry(auto_describe=True)
    extra.register(CacheStatsCollector())
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry) + generate_latest(extra)
    return generate_latest(REGISTRY) + generate_latest(extra)


def _networks(entries: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            logger.warning("METRICS_ALLOWED_IPS: ignoring %r (not an IP address or network)", entry)
    return networks


def address_allowed(address: str, allowed: Iterable[str]) -> bool:
    """Whether `address` is one of `allowed` (IP addresses or CIDR networks)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in network for network in _networks(allowed))


def metrics_view(request: HttpRequest) -> HttpResponse:
    address = client_ip(request)
    if not address_allowed(address, settings.METRICS_ALLOWED_IPS):
        return HttpResponseForbidden(
            f"/metrics is not open to {address or 'this client'} (see METRICS_ALLOWED_IPS)\n",
            content_type="text/plain",
        )
    return HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)
