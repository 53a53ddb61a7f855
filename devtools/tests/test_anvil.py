"""The anvil runner: starts a node from the pinned npm package, stops it, says what is missing."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from ajo.engine.rpc import RpcClient
from devtools.anvil import AnvilError, AnvilNode, anvil_binary


def test_anvil_node_starts_answers_and_stops():
    with AnvilNode(accounts=2) as node:
        assert node.running
        with RpcClient(node.url) as rpc:
            assert rpc.chain_id() == 31337
            assert len(rpc.call("eth_accounts")) == 2
        process = node.process
    assert process.returncode is not None
    assert not node.running


def test_missing_anvil_binary_says_to_run_npm_ci(tmp_path):
    with pytest.raises(AnvilError, match="run npm ci"):
        anvil_binary(tmp_path)


def test_anvil_is_found_from_the_module_path_without_django_settings():
    # `python -m devtools.anvil` and scripts run without settings: the repository is then
    # found from where this module sits in it.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    found = subprocess.run(
        [sys.executable, "-c", "from devtools.anvil import anvil_binary; print(anvil_binary())"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert found.returncode == 0, found.stderr
    assert Path(found.stdout.strip()).is_relative_to(Path(settings.BASE_DIR) / "node_modules")
