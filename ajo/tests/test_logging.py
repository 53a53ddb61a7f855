"""Request ids and log formats: the id is echoed, sane incoming ids are kept, every line has it."""

import json
import logging
import os
import subprocess
import sys

import pytest
from django.conf import settings

from ajo.logging import JsonFormatter, RequestIdFilter, TextFormatter, request_id_var
from ajo.middleware import request_id_from

pytestmark = pytest.mark.django_db


def test_every_response_gets_a_fresh_request_id(client):
    first = client.get("/metrics")["X-Request-ID"]
    second = client.get("/metrics")["X-Request-ID"]
    assert len(first) == 32 and int(first, 16) >= 0
    assert first != second


@pytest.mark.parametrize(
    "incoming", ["abc-123", "4bf92f3577b34da6a3ce929d0e0e4736", "trace:1.2_3", "x" * 128]
)
def test_a_sane_incoming_request_id_is_kept(client, incoming):
    assert client.get("/metrics", HTTP_X_REQUEST_ID=incoming)["X-Request-ID"] == incoming


@pytest.mark.parametrize(
    "incoming", ["", "has space", "line\nbreak", "x" * 129, "-leading-dash", '"quoted"', "é"]
)
def test_an_unsafe_incoming_request_id_is_replaced(client, incoming):
    echoed = client.get("/metrics", HTTP_X_REQUEST_ID=incoming)["X-Request-ID"]
    assert echoed != incoming
    assert request_id_from(echoed) == echoed


def test_log_lines_of_a_request_carry_its_id(client, caplog):
    # Django logs the 404 itself, outside the view: the id must still be on that line.
    caplog.handler.addFilter(RequestIdFilter())
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get("/no-such-page/", HTTP_X_REQUEST_ID="req-404")
    assert response.status_code == 404
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert "Not Found" in record.getMessage()
    assert record.request_id == "req-404"


def test_the_request_id_is_cleared_when_the_response_is_closed(client):
    client.get("/metrics", HTTP_X_REQUEST_ID="gone-after")
    assert request_id_var.get() is None


def _record(msg="hello %s", args=("world",), **extra):
    record = logging.LogRecord("ajo.test", logging.WARNING, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_json_formatter_writes_one_object_per_line_with_extra_fields():
    record = _record(group_id=7, block=123)
    RequestIdFilter().filter(record)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["message"] == "hello world"
    assert data["level"] == "WARNING"
    assert data["logger"] == "ajo.test"
    assert data["request_id"] == "-"
    assert (data["group_id"], data["block"]) == (7, 123)
    assert data["time"].endswith("+00:00")


def test_json_formatter_keeps_tracebacks_on_one_line():
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record = _record(msg="failed", args=())
        record.exc_info = sys.exc_info()
    data = json.loads(JsonFormatter().format(record))
    assert "ValueError: boom" in data["exc_info"]


def test_text_formatter_shows_the_request_id():
    token = request_id_var.set("rid-1")
    try:
        record = _record()
        RequestIdFilter().filter(record)
        line = TextFormatter().format(record)
    finally:
        request_id_var.reset(token)
    assert line.endswith("WARNING ajo.test [rid-1] hello world")


def _manage_logs(log_format: str) -> str:
    env = {**os.environ, "LOG_FORMAT": log_format, "SECRET_KEY": "k" * 50}
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "import logging; logging.getLogger('ajo.sync').warning('indexed %d blocks', 5)",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_log_format_json_applies_to_management_commands():
    lines = [line for line in _manage_logs("json").splitlines() if "indexed" in line]
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert data["message"] == "indexed 5 blocks"
    assert data["logger"] == "ajo.sync"


def test_log_format_text_is_the_readable_default():
    [line] = [line for line in _manage_logs("text").splitlines() if "indexed" in line]
    assert line.endswith("WARNING ajo.sync [-] indexed 5 blocks")
