"""The production server: `gunicorn -c gunicorn.conf.py ajo.wsgi`, as compose and make run it.

`gunicorn_server` is shared by the metrics, cache and compose tests: it starts the real command
on a free port with a scratch database and stops it (SIGTERM, then kill) afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from devtools.anvil import free_port

ROOT = Path(settings.BASE_DIR)
GUNICORN = [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "ajo.wsgi"]


def scratch_database_url(name: str) -> str:
    """A throwaway database beside the test one: PostgreSQL when the tests run on it."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        server = url.rsplit("/", 1)[0]
        dbname = f"{url.rsplit('/', 1)[1] or 'ajo'}_{name}"
        subprocess.run(
            ["psql", f"{server}/postgres", "-qc", f'DROP DATABASE IF EXISTS "{dbname}"'],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            ["psql", f"{server}/postgres", "-qc", f'CREATE DATABASE "{dbname}"'],
            check=True,
            capture_output=True,
        )
        return f"{server}/{dbname}"
    path = Path(tempfile.mkdtemp(prefix=f"ajo-{name}-")) / "db.sqlite3"
    return f"sqlite:///{path}"


def base_env(**overrides: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "PROMETHEUS_", "PYTEST_"))
    }
    env.update(
        {
            "SECRET_KEY": "s" * 60,
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_FORMAT": "json",
        }
    )
    env.update(overrides)
    return env


def manage(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log_path: Path
    pids: set[int] = field(default_factory=set)

    def get(self, path: str, headers: dict | None = None, data: bytes | None = None, method=None):
        """(status, headers, body) — HTTP errors are answers too."""
        request = urllib.request.Request(
            self.url + path, headers=headers or {}, data=data, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()

    def wait_for_workers(self, count: int = 2, timeout: float = 30) -> None:
        """The server answers as soon as one worker is up: wait until `count` have answered,
        so that concurrent requests can spread over them."""
        from concurrent.futures import ThreadPoolExecutor

        deadline = time.monotonic() + timeout
        with ThreadPoolExecutor(max_workers=8) as pool:
            while True:
                answered = {
                    line["process"]
                    for line in self.log_lines()
                    if line.get("logger") == "gunicorn.access" and line.get("path") == "/healthz"
                }
                if len(answered) >= count:
                    return
                assert time.monotonic() < deadline, f"only {len(answered)} worker(s) answered"
                list(pool.map(lambda _: self.get("/healthz"), range(16)))

    def log_lines(self) -> list[dict]:
        lines = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                lines.append(json.loads(line))
        return lines


@contextlib.contextmanager
def gunicorn_server(
    command: list[str] | None = None, *, env: dict[str, str], ready_path: str = "/metrics"
) -> Iterator[Server]:
    port = free_port()
    env = {**env, "PORT": str(port)}
    log_file = tempfile.NamedTemporaryFile(prefix="ajo-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        command or GUNICORN,
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = Server(f"http://127.0.0.1:{port}", process, Path(log_file.name))
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(f"gunicorn exited: {server.log_path.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                status, _, _ = server.get(ready_path)
                if status < 500:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"gunicorn not ready: {server.log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log_file.close()


def migrated_env_for(name: str, **overrides: str) -> dict[str, str]:
    """The environment of a web process on a freshly migrated scratch database."""
    env = base_env(DATABASE_URL=scratch_database_url(name), **overrides)
    result = manage("migrate", "--noinput", env=env)
    assert result.returncode == 0, result.stderr
    return env


@pytest.fixture(scope="module")
def migrated_env() -> dict[str, str]:
    return migrated_env_for("prodweb")


def test_gunicorn_conf_reads_the_environment():
    code = (
        "import runpy; c = runpy.run_path('gunicorn.conf.py'); "
        "print(c['bind'], c['workers'], c['preload_app'], c['max_requests'] > 0, "
        "c['control_socket_disable'], c['worker_class'], c['threads'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=base_env(HOST="0.0.0.0", PORT="9123", WEB_CONCURRENCY="5", GUNICORN_THREADS="8"),
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == ["0.0.0.0:9123", "5", "False", "True", "True", "gthread", "8"]
    defaults = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            k: v
            for k, v in base_env().items()
            if k not in {"HOST", "PORT", "WEB_CONCURRENCY", "GUNICORN_THREADS"}
        },
        capture_output=True,
        text=True,
        check=True,
    )
    fields = defaults.stdout.split()
    assert fields[:2] == ["127.0.0.1:8000", "2"]
    assert fields[-2:] == ["gthread", "4"]
    ipv6 = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=base_env(HOST="::", PORT="9124"),
        capture_output=True,
        text=True,
        check=True,
    )
    assert ipv6.stdout.split()[0] == "[::]:9124"


def test_gunicorn_listens_on_loopback_only_by_default(migrated_env):
    env = {k: v for k, v in migrated_env.items() if k != "HOST"}
    with gunicorn_server(env=env) as server:
        lines = [line["message"] for line in server.log_lines()]
    port = server.url.rsplit(":", 1)[1]
    assert f"Listening at: http://127.0.0.1:{port} ({server.process.pid})" in lines


def test_the_image_and_compose_bind_every_interface():
    """In a container, loopback would hide the server from the published port."""
    runtime = (ROOT / "Dockerfile").read_text().split("AS runtime", 1)[1]
    assert "HOST=0.0.0.0" in runtime
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["services"]["web"]["environment"]["HOST"] == "0.0.0.0"


def test_gunicorn_serves_with_json_access_lines_carrying_the_request_id(migrated_env):
    with gunicorn_server(env=migrated_env) as server:
        status, headers, _ = server.get("/nowhere/", headers={"X-Request-ID": "probe-42"})
        assert status == 404
        assert headers["X-Request-ID"] == "probe-42"
        time.sleep(0.3)
        lines = server.log_lines()
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    probe = [line for line in access if line.get("request_id") == "probe-42"]
    assert len(probe) == 1, access
    assert probe[0]["status"] == 404
    assert probe[0]["path"] == "/nowhere/"
    assert probe[0]["method"] == "GET"
    assert isinstance(probe[0]["duration_ms"], int)
    # Django's own "Not Found" line of that request carries the same id.
    django_lines = [line for line in lines if line["logger"] == "django.request"]
    assert [line["request_id"] for line in django_lines] == ["probe-42"]


def test_gunicorn_stops_cleanly_on_sigterm(migrated_env):
    with gunicorn_server(env=migrated_env) as server:
        pass
    assert server.process.returncode == 0
    assert any("Shutting down" in line["message"] for line in server.log_lines())
