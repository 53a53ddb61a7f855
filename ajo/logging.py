"""Log records that carry the request id, as readable text or one JSON object per line.

Used by Django's LOGGING (web, management commands such as sync_chain) and by gunicorn.conf.py
for gunicorn's own error and access logs, so every process logs in the same shape.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime

from gunicorn import glogging

# The id of the request being handled by this thread (None between requests).
request_id_var: ContextVar[str | None] = ContextVar("ajo_request_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

# Attributes every LogRecord has; anything else on a record came from `extra=` and is kept.
_RECORD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys() | {"message", "asctime", "taskName"}
)

# gunicorn access-log atoms worth a field of their own in JSON.
_ACCESS_FIELDS = {
    "h": "remote_addr",
    "m": "method",
    "U": "path",
    "q": "query",
    "s": "status",
    "B": "bytes",
    "M": "duration_ms",
    "a": "user_agent",
}


class RequestIdFilter(logging.Filter):
    """Puts the current request id (or "-") on every record as `request_id`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get() or "-"
        return True


class TextFormatter(logging.Formatter):
    """The readable default: time, level, logger, [request id], message."""

    def __init__(self, fmt: str | None = None, datefmt: str | None = None, **kwargs):
        super().__init__(fmt or TEXT_FORMAT, datefmt, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):  # a handler without RequestIdFilter
            record.request_id = request_id_var.get() or "-"
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, plus `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get() or "-",
            "process": record.process,
        }
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            for atom, field in _ACCESS_FIELDS.items():
                value = record.args.get(atom)
                if value not in (None, "-", ""):
                    payload[field] = value
            if "status" in payload:
                payload["status"] = int(payload["status"])
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and key not in payload and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            payload["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


def logging_config(*, log_format: str = "text", level: str = "INFO") -> dict:
    """A dictConfig for one stream handler on stderr in the chosen format.

    Unknown formats fall back to text rather than failing at start-up.
    """
    formatter = "json" if log_format.strip().lower() == "json" else "text"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "ajo.logging.RequestIdFilter"}},
        "formatters": {
            "text": {"()": "ajo.logging.TextFormatter"},
            "json": {"()": "ajo.logging.JsonFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": formatter,
                "filters": ["request_id"],
            },
        },
        "root": {"handlers": ["console"], "level": level.upper()},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
        },
    }


def gunicorn_logging_config(*, log_format: str = "text", level: str = "INFO") -> dict:
    """gunicorn's logconfig_dict: its error log on stderr, its access log on stdout."""
    config = logging_config(log_format=log_format, level=level)
    config["handlers"]["access"] = {
        **config["handlers"]["console"],
        "stream": "ext://sys.stdout",
    }
    config["loggers"] = {
        "gunicorn.error": {"handlers": ["console"], "level": level.upper(), "propagate": False},
        "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    }
    return config


class GunicornLogger(glogging.Logger):
    """gunicorn's logger, with each access line tagged with the response's X-Request-ID."""

    def access(self, resp, req, environ, request_time) -> None:
        headers = resp.headers.items() if hasattr(resp.headers, "items") else resp.headers
        request_id = next((v for k, v in headers if k.lower() == "x-request-id"), None)
        token = request_id_var.set(request_id or request_id_var.get())
        try:
            super().access(resp, req, environ, request_time)
        finally:
            request_id_var.reset(token)
