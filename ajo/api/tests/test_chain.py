"""Cache-first group reads and transaction ingest against a real anvil node."""

import pytest
from django.core.cache import cache

from ajo.api.throttling import CacheTolerantScopedRateThrottle
from ajo.chainreads import cache_stats
from ajo.contract.decode import decode_logs
from devtools.chainkit import AMOUNT
from groups.chainview import group_refresh_from_chain
from groups.models import Group, Membership, Token, User
from groups.services import (
    group_record_created_many,
    group_record_started_many,
    membership_record_joined_many,
)

pytestmark = pytest.mark.django_db


def hexstr(value: bytes) -> str:
    return "0x" + value.hex().removeprefix("0x")


def ingest(client, body):
    return client.post("/api/transactions/", body, content_type="application/json")


def events_of(chain, from_block: int) -> dict:
    logs = chain.rpc.call(
        "eth_getLogs",
        [{"address": chain.deployment.ajo, "fromBlock": hex(from_block), "toBlock": "latest"}],
    )
    times = {
        n: int(chain.rpc.call("eth_getBlockByNumber", [hex(n), False])["timestamp"], 16)
        for n in {int(log["blockNumber"], 16) for log in logs}
    }
    return decode_logs(logs, times)


class TestCacheFirst:
    def test_miss_reads_the_chain_stores_and_then_hits(self, client, on_chain):
        creator, member = on_chain.accounts[0], on_chain.accounts[1]
        group_id = on_chain.create_group(creator, max_members=3, name="Read through")
        on_chain.join(group_id, member)

        response = client.get(f"/api/groups/{group_id}/")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["name"] == "Read through"
        assert body["source"] == "chain_view"
        assert body["status"] == "forming"
        assert body["member_count"] == 2
        assert body["contribution_amount"] == str(AMOUNT)
        assert body["creator"] == creator
        assert body["token"]["address"] == on_chain.deployment.token
        assert body["token"]["decimals"] == 6  # TestToken is a 6-decimal stablecoin
        assert body["token"]["symbol"]
        assert [m["address"] for m in body["rotation"]] == [creator, member]
        assert [m["joined_block"] for m in body["rotation"]] == [None, None]
        assert body["round"]["payments_indexed"] is False
        assert cache_stats()["misses"] == 1

        group = Group.objects.get(id=group_id)
        assert group.source == Group.Source.CHAIN_VIEW
        assert Membership.objects.filter(group=group, joined_block__isnull=True).count() == 2
        assert Token.objects.get(address=on_chain.deployment.token.lower()).metadata_fetched

        assert client.get(f"/api/groups/{group_id}/").status_code == 200
        assert cache_stats()["hits"] == 1

    def test_a_group_the_chain_lacks_is_404_and_chain_reads_are_cached(self, client, on_chain):
        next_id = on_chain.ajo.functions.groupCount().call() + 1
        response = client.get(f"/api/groups/{next_id}/")
        assert response.status_code == 404
        assert response.json()["error"]["message"] == f"group {next_id} does not exist"
        assert on_chain.create_group(on_chain.accounts[0]) == next_id
        # The "no such group" answer is reused for a few seconds: the node is not hammered.
        assert client.get(f"/api/groups/{next_id}/").status_code == 404
        cache.clear()
        assert client.get(f"/api/groups/{next_id}/").status_code == 200
        assert not Group.objects.exclude(id=next_id).exists()

    def test_node_down_on_a_miss_is_503_with_the_reason(self, client, on_chain, settings):
        settings.CHAIN_RPC_URL = "http://127.0.0.1:9"  # discard port: nothing listens
        response = client.get("/api/groups/1/")
        assert response.status_code == 503
        error = response.json()["error"]
        assert error["code"] == "chain_unavailable"
        assert "connection refused" in error["message"]

    def test_the_sync_turns_chain_view_rows_into_event_rows_without_duplicates(
        self, client, on_chain
    ):
        start = on_chain.head() + 1
        a, b, c = on_chain.accounts[:3]
        group_id = on_chain.create_group(a, max_members=3, name="Converted")
        on_chain.join(group_id, b)
        assert client.get(f"/api/groups/{group_id}/").json()["source"] == "chain_view"
        on_chain.join(group_id, c)  # joins after the read: the events bring this one

        decoded = events_of(on_chain, start)
        group_record_created_many(events=decoded["GroupCreated"])
        membership_record_joined_many(events=decoded["MemberJoined"])
        group_record_started_many(events=decoded["GroupStarted"])

        group = Group.objects.get(id=group_id)
        created = decoded["GroupCreated"][0]
        assert group.source == Group.Source.EVENTS
        assert group.created_block == created.block_number
        assert group.created_tx == created.tx_hash
        assert group.member_count == 3
        assert group.status == Group.Status.ACTIVE
        assert group.current_round == 1
        seats = list(Membership.objects.filter(group=group).order_by("position"))
        assert [s.user.address for s in seats] == [a.lower(), b.lower(), c.lower()]
        assert all(s.joined_block is not None for s in seats)
        assert Group.objects.count() == 1
        assert Token.objects.get().group_count == 1
        assert [User.objects.get(address=x.lower()).group_count for x in (a, b, c)] == [1, 1, 1]

        body = client.get(f"/api/groups/{group_id}/").json()
        assert body["source"] == "events"
        assert body["round"]["payments_indexed"] is True
        assert body["round"]["unpaid"] == [a, b, c]

    def test_refresh_leaves_event_rows_alone(self, on_chain):
        start = on_chain.head() + 1
        group_id = on_chain.create_group(on_chain.accounts[0], name="Indexed")
        decoded = events_of(on_chain, start)
        group_record_created_many(events=decoded["GroupCreated"])
        membership_record_joined_many(events=decoded["MemberJoined"])
        on_chain.join(group_id, on_chain.accounts[1])  # ahead of this "sync"
        group = group_refresh_from_chain(group_id=group_id)
        assert group.source == Group.Source.EVENTS
        assert group.member_count == 1
        assert Membership.objects.filter(group_id=group_id).count() == 1


class TestIngest:
    def test_ingests_a_mined_transaction(self, client, on_chain):
        a, b = on_chain.accounts[:2]
        group_id = on_chain.create_group(a, max_members=2, name="Ingested")
        receipt = on_chain.join(group_id, b)
        tx_hash = "0x" + receipt["transactionHash"].hex().removeprefix("0x").upper()
        response = ingest(client, {"tx_hash": tx_hash})
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["tx_hash"] == tx_hash.lower()
        assert body["block_number"] == receipt["blockNumber"]
        assert body["events"] == {"MemberJoined": 1, "GroupStarted": 1}
        # The group was read from the views first (its seats exist), so only the start is new.
        assert body["applied"] >= 1
        assert client.get(f"/api/groups/{group_id}/").json()["member_count"] == 2

    @pytest.mark.parametrize("tx_hash", ["0x12", "0x" + "g" * 64, "", None, 5])
    def test_a_malformed_hash_is_400(self, client, on_chain, tx_hash):
        response = ingest(client, {"tx_hash": tx_hash})
        assert response.status_code == 400
        assert response.json()["error"]["message"].startswith("tx_hash: ")

    def test_unknown_pending_and_foreign_transactions(self, client, on_chain):
        response = ingest(client, {"tx_hash": "0x" + "ab" * 32})
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "tx_not_found"

        mint = on_chain.send(
            on_chain.token.functions.mint(on_chain.accounts[0], 1), on_chain.accounts[0]
        )
        response = ingest(client, {"tx_hash": hexstr(mint["transactionHash"])})
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "no_contract_logs"

        on_chain.rpc.call("evm_setAutomine", [False])
        pending = on_chain.ajo.functions.createGroup(
            "Pending", on_chain.deployment.token, 1, 86_400, 2
        ).transact({"from": on_chain.accounts[0], "gas": 1_000_000})
        response = ingest(client, {"tx_hash": hexstr(pending)})
        assert response.status_code == 409
        assert "not mined yet" in response.json()["error"]["message"]
        # A reverted snapshot keeps the mempool: drop the tx so it is never mined later.
        on_chain.rpc.call("anvil_dropTransaction", [hexstr(pending)])

    @pytest.mark.parametrize(
        ("address", "message"),
        [
            ("", "AJO_CONTRACT_ADDRESS is not set: set it to the AjoSavings deployment"),
            ("0x1234", "AJO_CONTRACT_ADDRESS is invalid"),
        ],
    )
    def test_without_a_usable_contract_is_503_naming_the_setting(
        self, client, settings, address, message
    ):
        settings.AJO_CONTRACT_ADDRESS = address
        response = ingest(client, {"tx_hash": "0x" + "ab" * 32})
        assert response.status_code == 503
        error = response.json()["error"]
        assert error["code"] == "chain_not_configured"
        assert error["message"].startswith(message)

    def test_only_json_is_accepted(self, client, on_chain):
        response = client.post("/api/transactions/", {"tx_hash": "0x" + "ab" * 32})
        assert response.status_code == 415
        assert response.json()["error"]["code"] == "unsupported_media_type"

    def test_node_down_is_503(self, client, on_chain, settings):
        settings.CHAIN_RPC_URL = "http://127.0.0.1:9"
        response = ingest(client, {"tx_hash": "0x" + "ab" * 32})
        assert response.status_code == 503
        assert "connection refused" in response.json()["error"]["message"]

    def test_throttled_per_client(self, client, on_chain, monkeypatch):
        # The rate is read from settings when the class is defined; pin a small one here.
        monkeypatch.setattr(CacheTolerantScopedRateThrottle, "THROTTLE_RATES", {"ingest": "2/min"})
        codes = [ingest(client, {"tx_hash": "0x" + "cd" * 32}).status_code for _ in range(3)]
        assert codes == [404, 404, 429]
        response = ingest(client, {"tx_hash": "0x" + "cd" * 32})
        error = response.json()["error"]
        assert error["code"] == "throttled"
        assert error["details"]["retry_after_seconds"] > 0
        assert int(response["Retry-After"]) > 0
