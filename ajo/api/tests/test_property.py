"""Property-based: requests generated from the OpenAPI schema never get a 5xx, and every
answer matches the schema (status, content type, body). Bounded to run in seconds."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from ajo.wsgi import application
from contributions.tests.factories import ContributionFactory, PayoutFactory
from groups.tests.factories import GroupFactory, MembershipFactory, TokenFactory, UserFactory

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api_schema(db, settings, dead_rpc_url):
    # No contract configured: a group the database lacks is a 404, never a chain read.
    settings.AJO_CONTRACT_ADDRESS = ""
    settings.CHAIN_RPC_URL = dead_rpc_url
    # A generated min_block beyond the index is a 409 after this wait (a test needs no 5 s).
    settings.API_MIN_BLOCK_WAIT_SECONDS = 0.05
    token = TokenFactory(address="0x" + "ab" * 20)
    users = [UserFactory(address=f"0x{i:040x}") for i in range(1, 4)]
    group = GroupFactory(id=1, token=token, creator=users[0], status="active", member_count=3)
    GroupFactory(id=2, token=token, creator=users[1])
    for position, user in enumerate(users):
        MembershipFactory(group=group, user=user, position=position)
        ContributionFactory(group=group, member=user, amount=2**100, block_number=10 + position)
    PayoutFactory(group=group, recipient=users[0], amount=3 * 2**100, block_number=12)
    # The WSGI app closes "old" connections around each request, which would close the test's
    # transaction; Django's own test client switches this off the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


# The one write (ingest) needs a chain: it has its own tests (ajo/api/tests/test_chain.py).
schema = schemathesis.pytest.from_fixture("api_schema").exclude(method="POST")


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_5xx_and_every_answer_matches_the_schema(case):
    case.call_and_validate(checks=CHECKS)
