"""/metrics: Prometheus text, all gunicorn workers in one scrape, open only to allowed clients."""

import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ajo.chainreads import cache_stats, cache_stats_record
from ajo.engine import metrics as sync_metrics
from ajo.metrics import address_allowed
from ajo.tests.test_production import gunicorn_server, migrated_env_for

pytestmark = pytest.mark.django_db


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _value(text: str, name: str, **labels) -> float:
    return _samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_counts_requests_by_route_name_and_status(client):
    before = client.get("/metrics").content.decode()
    client.get("/no-such-page/")
    client.get("/no-such-page/")
    after = client.get("/metrics")
    assert after.status_code == 200
    assert after["Content-Type"].startswith("text/plain; version=")
    text = after.content.decode()
    labels = {"view": "unmatched", "method": "GET", "status": "404"}
    name = "ajo_http_requests_total"
    assert _value(text, name, **labels) - _value(before, name, **labels) == 2
    # /metrics itself is a named route: the label is the route name, never the raw path.
    assert _value(text, name, view="metrics", method="GET", status="200") >= 1
    assert 'view="/no-such-page/"' not in text
    assert _value(text, "ajo_http_request_duration_seconds_count", view="unmatched") >= 2


def test_metrics_is_forbidden_to_other_addresses(client):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403
    assert b"METRICS_ALLOWED_IPS" in response.content


def test_metrics_accepts_networks_from_the_setting(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_x_forwarded_for_is_ignored_unless_a_proxy_is_trusted(client, settings):
    settings.METRICS_ALLOWED_IPS = ["192.0.2.10"]
    forged = {"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": "192.0.2.10"}
    assert client.get("/metrics", **forged).status_code == 403
    settings.NUM_PROXIES = 1
    assert client.get("/metrics", **forged).status_code == 200
    # Only the hop our proxy appended (right-most) counts; a client-supplied left part does not.
    spoofed = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "192.0.2.10, 203.0.113.9"}
    assert client.get("/metrics", **spoofed).status_code == 403


@pytest.mark.parametrize(
    ("address", "allowed", "expected"),
    [
        ("127.0.0.1", ["127.0.0.1", "::1"], True),
        ("::1", ["127.0.0.1", "::1"], True),
        ("::ffff:127.0.0.1", ["127.0.0.1"], True),
        ("172.18.0.5", ["172.16.0.0/12"], True),
        ("8.8.8.8", ["172.16.0.0/12", "not-an-ip"], False),
        ("", ["127.0.0.1"], False),
        ("garbage", ["127.0.0.1"], False),
    ],
)
def test_address_allowed(address, allowed, expected):
    assert address_allowed(address, allowed) is expected


def test_cache_hits_and_misses_are_exposed(client):
    cache_stats_record(hit=True)
    cache_stats_record(hit=True)
    cache_stats_record(hit=False)
    stats = cache_stats()
    assert stats["hits"] >= 2 and stats["misses"] >= 1
    text = client.get("/metrics").content.decode()
    assert _value(text, "ajo_cache_hits_total") == stats["hits"]
    assert _value(text, "ajo_cache_misses_total") == stats["misses"]
    assert "ajo_cache_hit_ratio" in text
    assert _value(text, "ajo_cache_available") == 1


def test_one_scrape_covers_every_gunicorn_worker():
    env = migrated_env_for("prodmetrics", WEB_CONCURRENCY="3")
    with gunicorn_server(env=env) as server:
        server.wait_for_workers(2)

        def hit(_):
            request = urllib.request.Request(server.url + "/missing/", headers={})
            try:
                urllib.request.urlopen(request, timeout=10)
            except urllib.error.HTTPError as error:
                return error.code
            return 200

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(hit, range(60)))
        assert statuses == [404] * 60
        access = [
            line
            for line in server.log_lines()
            if line["logger"] == "gunicorn.access" and line.get("path") == "/missing/"
        ]
        workers = {line["process"] for line in access}
        # Every scrape, whichever worker answers it, sees all 60 requests.
        totals = set()
        for _ in range(6):
            status, _, text = server.get("/metrics")
            assert status == 200
            labels = {"view": "unmatched", "method": "GET", "status": "404"}
            totals.add(_value(text, "ajo_http_requests_total", **labels))
    assert len(workers) >= 2, "the requests did not spread over workers; the test proves nothing"
    assert totals == {60.0}


def test_sync_worker_metrics_server_serves_every_sync_metric():
    sync_metrics.record_blocks(head=120, indexed=100)
    sync_metrics.IS_WRITER.set(1)
    sync_metrics.EVENTS.labels(event="ContributionMade").inc(3)
    server = sync_metrics.start_metrics_server(0, host="127.0.0.1")
    try:
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    names = {name for name, _ in _samples(text)}
    for name in sync_metrics.METRIC_NAMES:
        assert name in names, name
    assert _value(text, "ajo_sync_lag_blocks") == 20
    assert _value(text, "ajo_sync_is_writer") == 1
    assert _value(text, "ajo_sync_events_total", event="ContributionMade") >= 3
