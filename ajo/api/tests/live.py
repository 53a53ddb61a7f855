"""A live API for the contract tests (schemathesis, the generated TypeScript client): gunicorn
on a scratch database that `sync_chain` filled from a private anvil with simulated activity.

    python -m ajo.api.tests.live        # the same, by hand: prints the URL, Ctrl-C stops it
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

from ajo.tests.test_production import Server, gunicorn_server, manage, migrated_env_for
from devtools.anvil import AnvilNode
from devtools.deploy import deploy_contracts


@dataclass
class LiveApi:
    server: Server
    env: dict[str, str]
    chain_url: str
    counts: dict  # what simulate_chain sent

    @property
    def url(self) -> str:
        return self.server.url


def _run(*args: str, env: dict[str, str], timeout: float = 300) -> str:
    result = manage(*args, env=env, timeout=timeout)
    assert result.returncode == 0, f"{args[0]} failed: {result.stderr[-2000:]}"
    return result.stdout


@contextlib.contextmanager
def synced_api(name: str, **overrides: str) -> Iterator[LiveApi]:
    """Six groups in every stage (forming, active with late payers, completed), synced."""
    with AnvilNode() as node:
        deployment = deploy_contracts(rpc_url=node.url)
        env = migrated_env_for(
            name,
            CHAIN_RPC_URL=node.url,
            AJO_CONTRACT_ADDRESS=deployment.ajo,
            AJO_TOKEN_ADDRESS=deployment.token,
            AJO_START_BLOCK=str(deployment.block),
            LOG_LEVEL="WARNING",
            **overrides,
        )
        out = _run(
            "simulate_chain",
            *("--groups", "6", "--members", "3", "--rounds", "3", "--seed", "15"),
            env=env,
        )
        counts = json.loads(out.strip().splitlines()[-1])
        _run("sync_chain", env=env)
        with gunicorn_server(env=env) as server:
            yield LiveApi(server=server, env=env, chain_url=node.url, counts=counts)


if __name__ == "__main__":  # pragma: no cover - by hand
    import os
    import time

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ajo.settings_test")
    django.setup()
    with synced_api("live") as api:
        print(api.url, api.counts, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            time.sleep(3600)
