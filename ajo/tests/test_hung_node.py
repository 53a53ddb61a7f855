"""A node that takes requests and never answers does not stop the site: under real gunicorn,
while group reads wait on it in parallel, /healthz and /readyz answer at once."""

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ajo.tests.test_production import gunicorn_server, migrated_env_for
from devtools.faultproxy import FaultProxy


@pytest.fixture
def silent_node():
    node = FaultProxy("http://127.0.0.1:9")  # never forwards: every request is held
    node.hang()
    yield node
    node.close()


def _timed(server, path):
    started = time.monotonic()
    status, _, body = server.get(path)
    return status, time.monotonic() - started, body


def test_probes_answer_while_group_reads_wait_on_a_hung_node(silent_node):
    env = migrated_env_for(
        "prodhung",
        CHAIN_RPC_URL=silent_node.url,
        AJO_CONTRACT_ADDRESS="0x" + "11" * 20,
        API_CHAIN_READ_RATE="1000/min",
    )
    with gunicorn_server(env=env, ready_path="/healthz") as server:
        server.wait_for_workers(2)
        with ThreadPoolExecutor(max_workers=12) as pool:
            # Eight group reads the database cannot answer: each would wait on the node.
            reads = [pool.submit(_timed, server, f"/api/groups/{n}/") for n in range(1, 9)]
            deadline = time.monotonic() + 5
            while silent_node.requests < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert silent_node.requests >= 2, "no group read reached the node"
            health = [_timed(server, "/healthz") for _ in range(20)]
            ready = [_timed(server, "/readyz") for _ in range(5)]
            waiting = sum(not read.done() for read in reads)
            answered = [read.result() for read in reads]
    assert waiting >= 1, "the group reads were over before the probes: the test proves nothing"
    assert all(status == 200 for status, _, _ in health + ready), health + ready
    health_times = [elapsed for _, elapsed, _ in health]
    assert statistics.median(health_times) < 0.1, health_times
    assert max(health_times) < 0.5, health_times
    assert max(elapsed for _, elapsed, _ in ready) < 1, ready
    # Every group read got an answer, a 503 with the reason, within the read deadline.
    assert [status for status, _, _ in answered] == [503] * 8, answered
    assert max(elapsed for _, elapsed, _ in answered) < 6, answered
    # Two workers, two reads each waiting on the node, one retry each: no more than that.
    assert silent_node.requests <= 8
