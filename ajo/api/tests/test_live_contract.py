"""The schema is a contract a client can trust, proven against a live server (gunicorn, a
database that sync_chain filled from a private anvil with simulated activity):

- `schemathesis run --checks all` with the project's schemathesis.toml finds nothing: every
  request the schema allows is answered as the schema says, every one it forbids refused;
- a TypeScript client generated from the live schema (openapi-typescript) type-checks
  (tsc, strict) with openapi-fetch and exercises every endpoint against the server.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from ajo.api.tests.live import synced_api

ROOT = Path(settings.BASE_DIR)
BIN = ROOT / "node_modules" / ".bin"
CLIENT = Path(__file__).parent / "client"


@pytest.fixture(scope="module")
def live():
    with synced_api(
        "contract",
        # The server's limits, set so that the fuzzer reaches the API's logic: throttles
        # that let its requests through, and a short wait for min_block ahead of the index.
        API_INGEST_RATE="100000/min",
        API_CHAIN_READ_RATE="100000/min",
        API_MIN_BLOCK_WAIT_SECONDS="0.2",
    ) as api:
        yield api


def test_schemathesis_finds_no_failure_with_every_check(live, tmp_path):
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "--config-file",
            str(ROOT / "schemathesis.toml"),
            "run",
            "--checks",
            "all",
            f"{live.url}/api/schema/?format=json",
        ],
        cwd=ROOT,  # the config's hooks module is imported from here
        env={**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=500,
    )
    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    assert "passed" in result.stdout and "failure" not in result.stdout.split("SUMMARY")[-1]
    # Every operation was tested, not skipped for want of a schema the tool could read.
    assert "Tested: 12" in result.stdout, report


def _run(command: list[str], *, cwd: Path) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"{command[0]}: {result.stdout[-4000:]}{result.stderr[-4000:]}"
    return result.stdout


def test_a_generated_typescript_client_type_checks_and_works(live, tmp_path):
    for name in ("client.mts", "tsconfig.json"):
        shutil.copy(CLIENT / name, tmp_path / name)
    # Node and tsc resolve packages from node_modules beside the sources.
    (tmp_path / "node_modules").symlink_to(ROOT / "node_modules")
    schema_url = f"{live.url}/api/schema/?format=json"
    _run([str(BIN / "openapi-typescript"), schema_url, "-o", "ajo-api.d.ts"], cwd=tmp_path)
    _run([str(BIN / "tsc"), "-p", "."], cwd=tmp_path)
    out = _run(["node", "out/client.mjs", live.url], cwd=tmp_path)
    assert out.startswith("ok: 12 endpoints"), out


def test_the_client_would_not_compile_against_a_schema_that_broke_it(live, tmp_path):
    """The type check has teeth: the same client against a schema where `frequency` is a
    number again (as it was) does not compile."""
    for name in ("client.mts", "tsconfig.json"):
        shutil.copy(CLIENT / name, tmp_path / name)
    (tmp_path / "node_modules").symlink_to(ROOT / "node_modules")
    _, _, body = live.server.get("/api/schema/?format=json")
    schema = json.loads(body)
    for name in ("Group", "GroupDetail"):
        schema["components"]["schemas"][name]["properties"]["frequency"] = {"type": "integer"}
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    _run([str(BIN / "openapi-typescript"), "schema.json", "-o", "ajo-api.d.ts"], cwd=tmp_path)
    result = subprocess.run(
        [str(BIN / "tsc"), "-p", "."], cwd=tmp_path, capture_output=True, text=True, timeout=180
    )
    assert result.returncode != 0
    assert "frequency" in result.stdout or "number" in result.stdout, result.stdout
