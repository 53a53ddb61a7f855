"""Probes, /api/sync/, the cache hit/miss counters (locmem and a shared Redis), cache outages."""

from datetime import UTC, datetime, timedelta

import pytest
import redis
from django.db import OperationalError, connection
from django.utils import timezone

from ajo.chainreads import HITS_KEY, MISSES_KEY, cache_stats
from ajo.models import SyncState
from devtools.faultproxy import FaultProxy
from groups.tests.factories import GroupFactory

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_cache(location: str, prefix: str) -> dict:
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": prefix,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }


def test_healthz_answers_without_the_database(client):
    # No django_db mark: any database access here would raise.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert client.post("/healthz").status_code == 405


@pytest.mark.django_db
def test_readyz_never_asks_the_node(client, settings):
    node = FaultProxy("http://127.0.0.1:9")  # takes requests and never answers
    node.hang()
    try:
        settings.CHAIN_RPC_URL = node.url
        SyncState.objects.create(
            pk=1,
            chain_id=31337,
            contract_address="0x5fbdb2315678afecb367f032d93f642f64180aa3",
            last_block=120,
            last_block_time=timezone.now() - timedelta(seconds=42),
        )
        response = client.get("/readyz")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ready"
        assert body["database"] == {"ok": True}
        # No head read lately: unknown, not down. How far the index trails the clock is known.
        assert body["chain"]["ok"] is None
        assert body["chain"]["head_block"] is None
        assert body["chain"]["indexed_block"] == 120
        assert 42 <= body["chain"]["indexed_block_age_seconds"] < 60
        assert node.requests == 0
    finally:
        node.close()


@pytest.mark.django_db
def test_readyz_reports_the_head_the_api_last_read(client, settings, dead_rpc_url):
    settings.CHAIN_RPC_URL = dead_rpc_url
    assert client.get("/api/sync/").json()["head_block"] is None  # reads the head: refused
    response = client.get("/readyz")
    assert response.status_code == 200
    chain = response.json()["chain"]
    assert chain["ok"] is False
    assert "connection refused" in chain["error"]
    assert chain["indexed_block"] is None


@pytest.mark.django_db
def test_readyz_is_503_when_the_database_fails(client, settings, dead_rpc_url):
    settings.CHAIN_RPC_URL = dead_rpc_url

    def refuse(execute, sql, params, many, context):
        raise OperationalError("connection to server failed: Connection refused")

    with connection.execute_wrapper(refuse):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"] == {
        "ok": False,
        "error": "connection to server failed: Connection refused",
    }


@pytest.mark.django_db
def test_sync_status_without_a_node(client, settings, dead_rpc_url):
    settings.CHAIN_RPC_URL = dead_rpc_url
    SyncState.objects.create(
        pk=1,
        chain_id=31337,
        contract_address="0x5fbdb2315678afecb367f032d93f642f64180aa3",
        last_block=120,
        last_block_time=datetime(2026, 1, 1, tzinfo=UTC),
        reorg_count=2,
        total_events=900,
    )
    body = client.get("/api/sync/").json()
    assert body["chain_id"] == "31337"  # a string: chain ids may pass 2**53
    assert body["contract"] == "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    assert body["indexed_block"] == 120
    assert body["indexed_block_time"] == "2026-01-01T00:00:00Z"
    assert body["head_block"] is None
    assert "connection refused" in body["head_error"]
    assert body["lag_blocks"] is None
    assert body["reorg_count"] == 2
    assert body["total_events"] == 900
    assert body["cache"] == {"hits": 0, "misses": 0, "hit_rate": None, "available": True}


@pytest.mark.django_db
def test_sync_status_on_an_empty_database(client, settings, dead_rpc_url):
    settings.CHAIN_RPC_URL = dead_rpc_url
    settings.AJO_CONTRACT_ADDRESS = ""
    body = client.get("/api/sync/").json()
    assert body["chain_id"] is None
    assert body["indexed_block"] is None
    assert body["contract"] is None


@pytest.mark.django_db
def test_group_reads_are_counted(client, settings):
    settings.AJO_CONTRACT_ADDRESS = ""  # a miss cannot read through: 404
    GroupFactory(id=1)
    client.get("/api/groups/1/")
    client.get("/api/groups/1/")
    client.get("/api/groups/2/")
    assert cache_stats() == {"hits": 2, "misses": 1, "hit_rate": 0.6667, "available": True}


@pytest.mark.django_db
def test_counters_live_in_the_shared_redis_cache(client, settings):
    prefix = f"ajo-api-test-{id(settings)}"
    settings.CACHES = redis_cache(REDIS_URL, prefix)
    settings.AJO_CONTRACT_ADDRESS = ""
    raw = redis.Redis.from_url(REDIS_URL)
    try:
        GroupFactory(id=1)
        client.get("/api/groups/1/")
        client.get("/api/groups/3/")
        client.get("/api/groups/1/")
        # Another process (here: a plain Redis client) sees the same numbers.
        assert int(raw.get(f"{prefix}:1:{HITS_KEY}")) == 2
        assert int(raw.get(f"{prefix}:1:{MISSES_KEY}")) == 1
        assert client.get("/api/sync/").json()["cache"]["hits"] == 2
    finally:
        for key in raw.scan_iter(f"{prefix}:*"):
            raw.delete(key)


@pytest.mark.django_db
def test_reads_work_when_the_cache_is_down(client, settings, dead_rpc_url, caplog):
    settings.CACHES = redis_cache(dead_rpc_url.replace("http", "redis") + "/0", "down")
    settings.CHAIN_RPC_URL = dead_rpc_url
    GroupFactory(id=1, name="Still here")
    response = client.get("/api/groups/1/")
    assert response.status_code == 200
    assert response.json()["name"] == "Still here"
    assert "cannot count a group read in the cache" in caplog.text
    status = client.get("/api/sync/")
    assert status.status_code == 200
    assert status.json()["cache"] == {
        "hits": None,
        "misses": None,
        "hit_rate": None,
        "available": False,
    }
