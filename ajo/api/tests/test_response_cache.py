"""The API's answers keyed by the index (ajo/api/cache.py): X-Indexed-Block on every answer,
ETags and 304s without the tables, the shared cache, which every write of the index
invalidates in its own transaction, and ?min_block= (read-your-writes)."""

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from ajo.api import cache as cache_module
from ajo.api.cache import SOURCE_CHAIN_VIEW
from ajo.api.tests import nocache
from ajo.metrics import api_cache_stats
from ajo.models import SyncState
from ajo.tests.factories import SyncStateFactory
from contributions.tests.factories import ContributionFactory
from groups.models import Group
from groups.services import token_set_metadata
from groups.tests.factories import GroupFactory, MembershipFactory, TokenFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def indexed():
    state = SyncStateFactory(last_block=100)
    token = TokenFactory(symbol="USDC")
    users = [UserFactory() for _ in range(3)]
    group = GroupFactory(id=7, token=token, creator=users[0], name="lagos", member_count=3)
    for position, user in enumerate(users):
        MembershipFactory(group=group, user=user, position=position)
    ContributionFactory(group=group, member=users[0], block_number=90)
    return state, group


def commit_window(*, last_block: int) -> None:
    """What a window's transaction does to the checkpoint (ajo.engine.apply): lock, save."""
    with transaction.atomic():
        state = SyncState.objects.select_for_update().get(pk=1)
        state.last_block = last_block
        state.save()


def data_queries(queries) -> list[str]:
    """The queries of a request that read anything but the one-row sync state."""
    return [q["sql"] for q in queries if "ajo_syncstate" not in q["sql"]]


GETS = [
    "/api/groups/",
    "/api/groups/7/",
    "/api/groups/7/members/",
    "/api/groups/7/contributions/",
    "/api/groups/7/payouts/",
    "/api/contributions/",
    "/api/payouts/",
    "/api/sync/",
    "/api/schema/",
]


@pytest.mark.parametrize("path", GETS)
def test_every_get_carries_the_indexed_block_an_etag_and_cache_control(client, indexed, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response["X-Indexed-Block"] == "100"
    assert response["ETag"].startswith('W/"')
    assert "no-cache" in response["Cache-Control"]


def test_errors_and_posts_carry_the_indexed_block_too(client, indexed):
    missing = client.get("/api/groups/7/contributions/?page_size=0")
    assert missing.status_code == 400
    assert missing["X-Indexed-Block"] == "100"
    assert missing["Cache-Control"] == "no-store"
    assert client.get("/api/nowhere/")["X-Indexed-Block"] == "100"
    post = client.post("/api/transactions/", {"tx_hash": "nope"}, content_type="application/json")
    assert post.status_code == 400
    assert post["X-Indexed-Block"] == "100"


def test_before_the_first_window_the_block_is_the_one_before_the_start(client, settings):
    settings.AJO_START_BLOCK = 50
    response = client.get("/api/groups/")
    assert response["X-Indexed-Block"] == "49"
    SyncStateFactory(start_block=60, last_block=None)
    assert client.get("/api/groups/")["X-Indexed-Block"] == "59"


@pytest.fixture(params=["locmem", "redis"])
def api_cache(request, settings):
    """The response cache as the demo runs it (local memory) and as compose does (Redis; DB 5
    and a key prefix of this run's own)."""
    if request.param == "redis":
        settings.CACHES = {
            **settings.CACHES,
            "api": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": "redis://127.0.0.1:6379/5",
                "KEY_PREFIX": f"ajo-api-test-{uuid.uuid4().hex}",
            },
        }
    return request.param


def test_a_repeated_read_is_a_hit_that_reads_no_table(client, indexed, api_cache):
    first = client.get("/api/groups/7/")
    assert first["X-Cache"] == "miss"
    # What another process finds: the shared cache, not this one's copy in front of it.
    cache_module._local.clear()
    with CaptureQueriesContext(connection) as queries:
        second = client.get("/api/groups/7/")
    assert second["X-Cache"] == "hit"
    assert second.content == first.content
    assert second["ETag"] == first["ETag"]
    assert data_queries(queries.captured_queries) == []
    assert len(queries.captured_queries) == 1  # the index version


def test_if_none_match_is_a_304_without_the_tables_or_the_cache(client, indexed, settings):
    etag = client.get("/api/groups/?status=active")["ETag"]
    settings.CACHES = {**settings.CACHES, "api": {"BACKEND": "ajo.api.tests.nocache.Recording"}}
    nocache.calls.clear()
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/groups/?status=active", headers={"if-none-match": etag})
    assert response.status_code == 304
    assert nocache.calls == []
    assert response.content == b""
    assert response["ETag"] == etag
    assert response["X-Indexed-Block"] == "100"
    assert data_queries(queries.captured_queries) == []


def test_an_etag_is_for_its_path_and_query(client, indexed):
    etag = client.get("/api/groups/?status=active")["ETag"]
    other = client.get("/api/groups/?status=forming", headers={"if-none-match": etag})
    assert other.status_code == 200
    forged = etag.replace(etag.split(".")[-1], 'ffffffffffffffffffffffff"')
    forged_answer = client.get("/api/groups/?status=active", headers={"if-none-match": forged})
    assert forged_answer.status_code == 200


def test_the_query_is_normalised_and_min_block_is_not_part_of_it(client, indexed):
    first = client.get("/api/groups/?status=active&ordering=name")
    again = client.get("/api/groups/?ordering=name&status=active&min_block=5")
    assert again["X-Cache"] == "hit"
    assert again["ETag"] == first["ETag"]


def test_a_window_commit_changes_every_answer_at_once(client, indexed):
    _, group = indexed
    before = client.get("/api/groups/7/contributions/")
    assert len(before.json()["results"]) == 1
    old_etag = before["ETag"]
    ContributionFactory(group=group, member=group.creator, round=2, block_number=101)
    # Rows written without the checkpoint moving are not what the API shows yet...
    assert client.get("/api/groups/7/contributions/")["X-Cache"] == "hit"
    commit_window(last_block=101)  # ...the window's transaction moves it with them
    after = client.get("/api/groups/7/contributions/", headers={"if-none-match": old_etag})
    assert after.status_code == 200
    assert after["X-Cache"] == "miss"
    assert after["X-Indexed-Block"] == "101"
    assert len(after.json()["results"]) == 2
    assert after["ETag"] != old_etag


def test_a_revert_and_an_ingest_move_the_generation_as_windows_do(client, indexed):
    from ajo.engine.checkpoint import rewind_checkpoint

    generation = SyncState.objects.get().generation
    with transaction.atomic():
        rewind_checkpoint(to_block=95)  # a reorg's revert, --from-block
    assert SyncState.objects.get().generation != generation
    assert client.get("/api/groups/7/")["X-Indexed-Block"] == "95"
    generation = SyncState.objects.get().generation
    with transaction.atomic():  # what ingest does after its rows (ajo.engine.ingest)
        state = SyncState.objects.select_for_update().get(pk=1)
        state.ahead_block = 120
        state.save(update_fields=["ahead_block", "updated_at"])
    assert SyncState.objects.get().generation != generation


def test_token_metadata_read_after_a_window_moves_the_generation(client, indexed):
    _, group = indexed
    assert client.get("/api/groups/7/").json()["token"]["symbol"] == "USDC"
    token_set_metadata(address=group.token.address, symbol="DAI", name="Dai", decimals=18)
    response = client.get("/api/groups/7/")
    assert response["X-Cache"] == "miss"
    assert response.json()["token"]["symbol"] == "DAI"


def test_a_group_detail_expires_when_its_round_deadline_passes(client, indexed):
    deadline = datetime.now(tz=UTC).replace(microsecond=0) + timedelta(seconds=2)
    Group.objects.filter(id=7).update(
        status="active", current_round=1, next_deadline=deadline, start_time=deadline
    )
    commit_window(last_block=100)
    first = client.get("/api/groups/7/")
    assert first.json()["round"]["is_overdue"] is False
    assert client.get("/api/groups/7/")["X-Cache"] == "hit"
    time.sleep((deadline - datetime.now(tz=UTC)).total_seconds() + 1.1)
    stale_etag = client.get("/api/groups/7/", headers={"if-none-match": first["ETag"]})
    assert stale_etag.status_code == 200  # the old ETag expired with the deadline
    assert stale_etag["X-Cache"] == "miss"
    assert stale_etag.json()["round"]["is_overdue"] is True


def test_chain_view_answers_are_counted_apart(client, indexed):
    GroupFactory(id=8, source=Group.Source.CHAIN_VIEW, read_block=105)
    before = api_cache_stats().get(SOURCE_CHAIN_VIEW, {})
    first = client.get("/api/groups/8/")
    assert first.json()["source"] == "chain_view"
    client.get("/api/groups/8/")
    assert client.get("/api/groups/8/", headers={"if-none-match": first["ETag"]}).status_code == 304
    after = api_cache_stats()[SOURCE_CHAIN_VIEW]
    assert after.get("miss", 0) - before.get("miss", 0) == 1
    assert after.get("hit", 0) - before.get("hit", 0) == 1
    assert after.get("not_modified", 0) - before.get("not_modified", 0) == 1
    metrics = client.get("/metrics").content.decode()
    assert 'ajo_api_cache_total{result="hit",source="chain_view"}' in metrics
    assert 'ajo_api_cache_total{result="not_modified",source="chain_view"}' in metrics


def test_live_answers_are_never_stored_but_revalidate(client, indexed):
    first = client.get("/api/sync/")
    assert "X-Cache" not in first
    assert first["Cache-Control"] == "no-cache"
    again = client.get("/api/sync/", headers={"if-none-match": first["ETag"]})
    # The body holds the cache counters, which that first read moved: a new body, a 200.
    assert again.status_code in (200, 304)
    schema = client.get("/api/schema/")
    assert client.get("/api/schema/", headers={"if-none-match": schema["ETag"]}).status_code == 304


# --- ?min_block= --------------------------------------------------------------------------------


def test_min_block_reached_answers_at_once(client, indexed):
    response = client.get("/api/groups/?min_block=100")
    assert response.status_code == 200
    assert response["X-Indexed-Block"] == "100"


def test_min_block_not_reached_in_time_is_409_with_the_indexed_block(client, indexed, settings):
    settings.API_MIN_BLOCK_WAIT_SECONDS = 0.3
    started = time.monotonic()
    response = client.get("/api/groups/7/?min_block=101")
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 409
    assert response["Retry-After"] == "1"
    assert response["X-Indexed-Block"] == "100"
    error = response.json()["error"]
    assert error["code"] == "index_behind"
    assert error["details"] == {"indexed_block": 100, "min_block": 101}
    assert "block 100" in error["message"]


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "9" * 20, "١٢"])
def test_a_bad_min_block_is_a_400_naming_it(client, indexed, value):
    response = client.get(f"/api/groups/?min_block={value}")
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("min_block:")


@pytest.mark.django_db(transaction=True)
def test_min_block_waits_for_the_window_that_reaches_it(client, settings):
    settings.API_MIN_BLOCK_WAIT_SECONDS = 5
    SyncStateFactory(last_block=100)
    assert client.get("/api/groups/")["X-Indexed-Block"] == "100"

    def sync():
        time.sleep(0.4)
        commit_window(last_block=103)
        connection.close()

    writer = threading.Thread(target=sync)
    started = time.monotonic()
    writer.start()
    response = client.get("/api/groups/?min_block=102")
    waited = time.monotonic() - started
    writer.join()
    assert response.status_code == 200
    assert response["X-Indexed-Block"] == "103"
    assert response["X-Cache"] == "miss"  # keyed by the generation it waited for
    assert 0.4 <= waited < 3


def test_the_admin_dashboard_shows_the_response_cache(client, indexed):
    from django.urls import reverse

    from groups.tests.factories import StaffFactory

    client.get("/api/groups/?search=dash")
    client.get("/api/groups/?search=dash")
    client.force_login(StaffFactory(is_superuser=True))
    page = client.get(reverse("admin:index"))
    index = page.context["api_cache"][0]
    assert index["label"] == "API answers"
    assert index["hits"] >= 1
    assert index["misses"] >= 1
    html = page.content.decode()
    assert 'id="ajo-api-cache"' in html
    assert "without running the view" in html


@pytest.mark.django_db(transaction=True)
def test_a_group_read_through_the_chain_is_cached_by_the_same_rules_and_counted_apart(
    client, on_chain
):
    """Point 6 on a real node: the cache-first read stores the group (a new generation, so
    the list shows it at once), its answers are then cached and revalidated like any other,
    counted as chain_view, until the sync's window makes the group the events' own."""
    from ajo.engine import loop

    a, b = on_chain.accounts[1:3]
    loop.run()  # an index exists; the group below comes after its checkpoint
    group_id = on_chain.create_group(a, max_members=3, name="Ahead")
    on_chain.join(group_id, b)
    before = dict(api_cache_stats().get(SOURCE_CHAIN_VIEW, {}))
    assert client.get("/api/groups/").json()["count"] == 0

    read = client.get(f"/api/groups/{group_id}/")
    assert read.json()["source"] == "chain_view"
    assert "X-Cache" not in read  # the read wrote the rows: its own generation is gone
    assert client.get("/api/groups/").json()["count"] == 1  # the list is not stale
    stored = client.get(f"/api/groups/{group_id}/")
    assert stored["X-Cache"] == "miss"
    assert client.get(f"/api/groups/{group_id}/")["X-Cache"] == "hit"
    revalidated = client.get(f"/api/groups/{group_id}/", headers={"if-none-match": stored["ETag"]})
    assert revalidated.status_code == 304
    after = api_cache_stats()[SOURCE_CHAIN_VIEW]
    for result, count in (("uncached", 1), ("miss", 1), ("hit", 1), ("not_modified", 1)):
        assert after.get(result, 0) - before.get(result, 0) == count, result

    loop.run()  # the sync reaches the group's blocks: its events confirm it
    synced = client.get(f"/api/groups/{group_id}/", headers={"if-none-match": stored["ETag"]})
    assert synced.status_code == 200
    assert synced.json()["source"] == "events"
    assert int(synced["X-Indexed-Block"]) >= on_chain.head()
