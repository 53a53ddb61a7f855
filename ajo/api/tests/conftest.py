"""Fixtures for the API's own tests: a private chain (funded dev accounts, rewound after each
test), a closed port for an unreachable node, an empty cache."""

import socket

import pytest
from django.core.cache import cache

from devtools.chainkit import private_chain, rewound


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def dead_rpc_url() -> str:
    """A loopback URL where nothing listens: connection refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def chain():
    with private_chain() as chain:
        chain.fund(*chain.accounts[:6])
        yield chain


@pytest.fixture
def on_chain(chain, settings):
    with rewound(chain, settings):
        yield chain
    chain.rpc.call("evm_setAutomine", [True])
