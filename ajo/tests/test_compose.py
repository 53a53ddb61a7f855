"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

The compose file is validated against the Compose specification, and every service's command
is run here exactly as written, with the compose-internal addresses (postgres, redis, anvil)
mapped to the local PostgreSQL (a scratch database), Redis and a local anvil.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from ajo.tests.test_production import base_env, gunicorn_server, scratch_database_url
from devtools.anvil import free_port

ROOT = Path(settings.BASE_DIR)
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
VENV_BIN = Path(sys.executable).parent
# On a fresh anvil, the first account's first two contracts always land here (see compose).
DEV_TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
DEV_AJO = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_file_follows_the_compose_specification():
    result = subprocess.run(
        [
            str(VENV_BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(COMPOSE),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_stack_shape(compose):
    services = compose["services"]
    assert set(services) == {
        "postgres",
        "redis",
        "migrate",
        "web",
        "sync",
        "sync-standby",
        "anvil",
        "deploy",
        "simulate",
    }
    assert services["postgres"]["image"] == "postgres:16-alpine"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["postgres"]["volumes"] == ["postgres-data:/var/lib/postgresql/data"]
    assert services["redis"]["image"] == "redis:7-alpine"
    assert "ping" in services["redis"]["healthcheck"]["test"]
    for name in ("web", "sync", "sync-standby"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}
        assert depends["postgres"] == {"condition": "service_healthy"}
        assert services[name]["env_file"] == [".env"]
        assert services[name]["restart"] == "unless-stopped"
    assert services["web"]["command"] == ["gunicorn", "-c", "gunicorn.conf.py", "ajo.wsgi"]
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    sync_command = ["python", "manage.py", "sync_chain", "--follow", "--metrics-port", "9100"]
    assert services["sync"]["command"] == services["sync-standby"]["command"] == sync_command
    dev = {name for name, service in services.items() if "dev" in service.get("profiles", [])}
    assert dev == {"anvil", "deploy", "simulate"}
    # The password is required, never defaulted.
    assert "${POSTGRES_PASSWORD:?" in COMPOSE.read_text()


# --- running each service's command here -------------------------------------------------------

_VAR = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")


def interpolate(value: str, variables: dict[str, str]) -> str:
    def replace(match: re.Match) -> str:
        name, kind, arg = match.groups()
        if variables.get(name):
            return variables[name]
        if kind == "?":
            raise AssertionError(f"compose requires {name}: {arg}")
        return arg or ""

    return _VAR.sub(replace, value)


def service_command(service: dict, ports: dict[str, str]) -> list[str]:
    command = service["command"]
    command = shlex.split(command) if isinstance(command, str) else list(command)
    command = [ports.get(part, part) for part in command]
    if command[0] == "python":
        command[0] = sys.executable
    elif command[0] == "gunicorn":
        command[0] = str(VENV_BIN / "gunicorn")
    elif command[0].startswith("node_modules/"):
        command[0] = str(ROOT / command[0])
    return ["127.0.0.1" if part == "0.0.0.0" else part for part in command]


def service_env(service: dict, *, dotenv: dict[str, str], local: dict[str, str]) -> dict:
    """env_file (.env) + environment, as compose would, then compose hosts -> local addresses."""
    env = dict(dotenv)
    for key, value in (service.get("environment") or {}).items():
        env[key] = interpolate(str(value), {**dotenv, **os.environ})
    if "DATABASE_URL" in env and "@postgres:5432/" in env["DATABASE_URL"]:
        env["DATABASE_URL"] = local["DATABASE_URL"]
    if "CACHE_URL" in env:
        env["CACHE_URL"] = env["CACHE_URL"].replace("redis://redis:6379", "redis://127.0.0.1:6379")
    if env.get("CHAIN_RPC_URL") == "http://anvil:8545":
        env["CHAIN_RPC_URL"] = local["CHAIN_RPC_URL"]
    return {**base_env(), **env}


def _metrics(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.labels
    }


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            last = predicate()
            if last:
                return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


@contextlib.contextmanager
def started(command: list[str], env: dict, log: Path):
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_every_service_command_runs_as_written(compose, tmp_path):
    services = compose["services"]
    dotenv = {  # what an operator's .env holds for the dev profile (README "## Operations")
        "SECRET_KEY": "compose-test-" + "k" * 50,
        "POSTGRES_PASSWORD": "compose-test",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "AJO_CONTRACT_ADDRESS": DEV_AJO,
        "AJO_TOKEN_ADDRESS": DEV_TOKEN,
        "AJO_START_BLOCK": "0",
        "CHAIN_RPC_URL": "http://anvil:8545",
    }
    anvil_port, web_port, writer_port, standby_port = (free_port() for _ in range(4))
    local = {
        "DATABASE_URL": scratch_database_url("compose"),
        "CHAIN_RPC_URL": f"http://127.0.0.1:{anvil_port}",
    }

    def env_of(name: str) -> dict:
        return service_env(services[name], dotenv=dotenv, local=local)

    # anvil (dev): the chain image's command, on a local port.
    anvil_command = service_command(services["anvil"], {"8545": str(anvil_port)})
    with started(anvil_command, base_env(), tmp_path / "anvil.log"):
        _wait_for(
            lambda: _chain_id(local["CHAIN_RPC_URL"]),
            30,
            "anvil",
        )
        # migrate: one-shot, exits 0.
        result = subprocess.run(
            service_command(services["migrate"], {}),
            cwd=ROOT,
            env=env_of("migrate"),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr

        # deploy (dev): lands at the fixed addresses the dev .env names.
        result = subprocess.run(
            service_command(services["deploy"], {}),
            cwd=ROOT,
            env=env_of("deploy"),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        last = result.stdout.strip().splitlines()[-1]
        assert f'"ajo": "{DEV_AJO}"' in last and f'"token": "{DEV_TOKEN}"' in last, last

        # simulate (dev): real transactions; the last line counts them.
        result = subprocess.run(
            service_command(services["simulate"], {}),
            cwd=ROOT,
            env=env_of("simulate"),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr
        assert '"contributions"' in result.stdout.strip().splitlines()[-1]

        # sync + sync-standby: one writes, the other waits; the standby takes over.
        writer_cmd = service_command(services["sync"], {"9100": str(writer_port)})
        standby_cmd = service_command(services["sync-standby"], {"9100": str(standby_port)})
        with started(writer_cmd, env_of("sync"), tmp_path / "sync.log") as writer:
            _wait_for(
                lambda: _metrics(writer_port).get("ajo_sync_is_writer") == 1,
                120,
                "the sync writer",
            )
            head = _wait_for(
                lambda: (
                    (m := _metrics(writer_port))["ajo_sync_lag_blocks"] == 0
                    and m["ajo_sync_indexed_block"] > 2
                    and m["ajo_sync_indexed_block"]
                ),
                300,
                "the writer to catch up",
            )
            assert head > 2
            with started(standby_cmd, env_of("sync-standby"), tmp_path / "standby.log"):
                _wait_for(lambda: _metrics(standby_port), 60, "the standby's metrics")
                time.sleep(2)
                assert _metrics(standby_port)["ajo_sync_is_writer"] == 0
                writer.terminate()
                assert writer.wait(timeout=60) == 0, (tmp_path / "sync.log").read_text()[-2000:]
                _wait_for(
                    lambda: _metrics(standby_port).get("ajo_sync_is_writer") == 1,
                    60,
                    "the standby to take over",
                )

        # web: the production command answers /readyz with the database and the chain up.
        web_env = {**env_of("web"), "PORT": str(web_port)}
        with gunicorn_server(service_command(services["web"], {}), env=web_env) as server:
            status, _, body = server.get("/readyz")
            assert status == 200, body
            assert '"ready"' in body
            status, _, body = server.get("/api/groups/")
            assert status == 200 and '"count": 10' in body.replace('"count":10', '"count": 10')


def _chain_id(url: str) -> int:
    request = urllib.request.Request(
        url,
        data=b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}',
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=2) as response:
        return int(yaml.safe_load(response.read())["result"], 16)


# --- the Dockerfile ----------------------------------------------------------------------------


def _stages() -> dict[str, list[str]]:
    stages: dict[str, list[str]] = {}
    current = None
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"FROM\s+(\S+)\s+AS\s+(\S+)", line, re.I)
        if match:
            current = match.group(2)
            stages[current] = [line]
        elif current:
            stages[current].append(line)
    return stages


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck():
    stages = _stages()
    assert list(stages) == ["build", "chain", "runtime"]  # runtime last: the default target
    runtime = stages["runtime"]
    assert runtime[0].startswith("FROM python:3.11-slim")
    assert stages["build"][0].startswith("FROM python:3.11-slim")
    assert stages["chain"][0].startswith("FROM node:20-slim")
    # Compilers stay in the build stage; only the virtualenv is copied.
    assert any("build-essential" in line for line in stages["build"])
    assert not any("build-essential" in line for line in runtime)
    assert "COPY --from=build /opt/venv /opt/venv" in runtime
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert any(line.startswith("HEALTHCHECK") and "/healthz" in line for line in runtime)
    assert runtime[-1] == 'CMD ["gunicorn", "-c", "gunicorn.conf.py", "ajo.wsgi"]'
    # The throwaway key is given to collectstatic's RUN only, never as ENV.
    assert not any(line.startswith("ENV") and "SECRET_KEY" in line for line in runtime)
    assert any(line.startswith("RUN SECRET_KEY=") and "collectstatic" in line for line in runtime)


def test_dockerfile_collectstatic_step_works_with_only_the_throwaway_key(tmp_path):
    run = next(line for line in _stages()["runtime"] if "collectstatic" in line)
    step = run.removeprefix("RUN ").split("&&")[0].strip()
    env = {k: v for k, v in base_env().items() if k not in {"SECRET_KEY", "DEBUG"}}
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
    result = subprocess.run(
        ["sh", "-c", step], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert (ROOT / "staticfiles" / "staticfiles.json").exists()


def test_dockerfile_healthcheck_one_liner_probes_healthz(tmp_path):
    healthcheck = next(line for line in _stages()["runtime"] if line.startswith("HEALTHCHECK"))
    exec_form = yaml.safe_load(healthcheck.split(" CMD ", 1)[1])
    assert exec_form[0] == "python"
    command = [sys.executable, *exec_form[1:]]
    env = base_env(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with gunicorn_server(env=env, ready_path="/healthz") as server:
        port = server.url.rsplit(":", 1)[1]
        ok = subprocess.run(command, env={**env, "PORT": port}, timeout=30)
        assert ok.returncode == 0
    down = subprocess.run(command, env={**env, "PORT": str(free_port())}, capture_output=True)
    assert down.returncode != 0


def test_dockerignore_keeps_local_state_and_secrets_out():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", "node_modules", ".env", ".git", "staticfiles", "db.sqlite3*"} <= ignored
