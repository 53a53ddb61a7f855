"""Throttles key on the client address behind NUM_PROXIES trusted proxies (ajo.client_ip)."""

import pytest

pytestmark = pytest.mark.django_db

INGEST_RATE = 30  # API_INGEST_RATE's default, per minute


def ingest(client, **meta):
    return client.post(
        "/api/transactions/", {"tx_hash": "not-a-hash"}, content_type="application/json", **meta
    ).status_code


def test_a_client_rotating_x_forwarded_for_is_still_throttled(client):
    # No trusted proxy (NUM_PROXIES=0): the header is the client's own text, not an address.
    codes = [
        ingest(client, REMOTE_ADDR="198.51.100.20", HTTP_X_FORWARDED_FOR=f"10.9.{i}.{i}")
        for i in range(80)
    ]
    assert codes == [400] * INGEST_RATE + [429] * (80 - INGEST_RATE)
    # Another address has its own quota.
    assert ingest(client, REMOTE_ADDR="198.51.100.21") == 400


def test_behind_one_proxy_the_right_most_entry_is_the_client(client, settings):
    settings.NUM_PROXIES = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    # The client rotates what it sends; the proxy appends the address it saw (the right-most).
    codes = [
        ingest(client, **proxy, HTTP_X_FORWARDED_FOR=f"192.0.2.{i}, 203.0.113.7") for i in range(80)
    ]
    assert codes == [400] * INGEST_RATE + [429] * (80 - INGEST_RATE)
    # Another client behind the same proxy is not throttled by the first one's requests.
    assert ingest(client, **proxy, HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.8") == 400
    # Nor are requests that name the throttled client as a forged left-hand entry.
    assert ingest(client, **proxy, HTTP_X_FORWARDED_FOR="203.0.113.7, 203.0.113.9") == 400
