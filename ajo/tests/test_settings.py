"""Settings: secure by default, and `check --deploy` clean under production values."""

import os
import subprocess
import sys

from django.conf import settings

PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "x" * 64 + "-production-like-secret-with-enough-entropy",
    "ALLOWED_HOSTS": "ajo.example.org",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
}


def _manage(*args, env):
    base = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_has_no_warnings_with_production_values():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_refuses_to_start_without_secret_key_when_debug_is_off():
    result = _manage("check", env={"DEBUG": "false", "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_is_off_by_default():
    result = _manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.DEBUG)",
        env={"SECRET_KEY": "k" * 50},
    )
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_sqlite_default_reads_while_writing():
    result = _manage(
        "shell",
        "-c",
        "from django.db import connection; c = connection.cursor(); "
        "c.execute('PRAGMA journal_mode'); print(c.fetchone()[0])",
        env={"SECRET_KEY": "k" * 50, "DATABASE_URL": "sqlite:////tmp/ajo-settings-test.sqlite3"},
    )
    assert result.stdout.strip().splitlines()[-1] == "wal"


def _num_proxies(env: dict) -> str:
    base = {k: v for k, v in os.environ.items() if k not in {"NUM_PROXIES"}}
    result = subprocess.run(
        [sys.executable, "-c", "from ajo import settings; print(settings.NUM_PROXIES)"],
        cwd=settings.BASE_DIR,
        env={**base, "SECRET_KEY": "k" * 50, "AJO_READ_DOTENV": "false", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_older_metrics_proxy_switch_still_means_one_trusted_proxy():
    assert _num_proxies({}) == "0"
    assert _num_proxies({"METRICS_TRUST_X_FORWARDED_FOR": "true"}) == "1"
    # NUM_PROXIES, when set, is what counts.
    assert _num_proxies({"METRICS_TRUST_X_FORWARDED_FOR": "true", "NUM_PROXIES": "2"}) == "2"
    assert _num_proxies({"METRICS_TRUST_X_FORWARDED_FOR": "true", "NUM_PROXIES": "0"}) == "0"
