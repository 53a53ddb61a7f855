"""Compare the database with the chain as of the indexed block: the runner of the checks the
apps register (registry.on_verify). groups/checks.py compares each group's state and members
with the view functions; contributions/checks.py who paid each round, the rotation's payouts,
each group's events against the contract's logs and the token balances; both check what the
database must hold without a node (verify_database).

Used by `manage.py verify_chain`, the admin's "verify against chain" action, the bench
dataset and the tests: every difference comes back as one line a person can act on.
"""

import functools

from django.conf import settings

from ajo.engine import registry, windows
from ajo.engine.rpc import RpcClient
from ajo.models import SyncState


def verify(*, scope: object | None = None, client: RpcClient | None = None) -> list[str]:
    """Differences between the database and the chain. `scope` narrows the chain checks to
    what the checks take it to name (the ids of the groups to check: verify_chain --group,
    the admin's action); None checks everything, the database's own invariants included.
    Raises the Source's error without a configured contract, RpcError/RpcUnavailable when the
    node cannot answer."""
    client = client or RpcClient(settings.CHAIN_RPC_URL)
    contract = registry.source().address()
    state = SyncState.objects.filter(pk=1).first()
    indexed = state.last_block if state is not None else None
    context = registry.VerifyContext(
        client=client,
        contract=contract,
        # as of the indexed block: later blocks are not expected in the database yet
        block=indexed if indexed is not None else "latest",
        indexed=indexed,
        start_block=state.start_block if state is not None else None,
        read_logs=functools.partial(windows.logs_in_windows, client),
        scope=scope,
    )
    differences: list[str] = []
    for check in registry.chain_checks():
        differences.extend(check(context))
    if scope is None:
        differences.extend(verify_database())
    return differences


def verify_database() -> list[str]:
    """What the database must hold whatever the chain says, checked without a node (every
    event row points at stored rows, totals equal the sums of their rows, each indexed
    group's state follows from its counters): `verify_chain --database-only`, the end of
    `verify()`, and bench/dataset.py over the dataset it built."""
    differences: list[str] = []
    for check in registry.database_checks():
        differences.extend(check())
    return differences
