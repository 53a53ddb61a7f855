"""gunicorn settings for ajo: `gunicorn -c gunicorn.conf.py ajo.wsgi` (compose, Makefile, benches).

Everything is read from the environment: HOST (127.0.0.1), PORT (8000), WEB_CONCURRENCY (2),
GUNICORN_THREADS (4), GUNICORN_TIMEOUT (30 s), LOG_FORMAT (text | json), LOG_LEVEL (INFO),
PROMETHEUS_MULTIPROC_DIR (a fresh temp dir).
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path

# The config file is executed before gunicorn puts the working directory on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ajo.logging import GunicornLogger, gunicorn_logging_config


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


# --- Prometheus multiprocess mode --------------------------------------------------------------
# Each worker writes its metric values to files in this directory and /metrics adds them up,
# so a scrape covers all workers, not only the one that answered. It must be set before any
# worker imports prometheus_client; the master sets it here and the workers inherit it.
_own_multiproc_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _own_multiproc_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ajo-prometheus-")
PROMETHEUS_MULTIPROC_DIR = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])

# --- Server socket and workers -----------------------------------------------------------------
# Loopback unless told otherwise: a demo or a bench on a laptop must not serve the network.
# Containers set HOST=0.0.0.0 (Dockerfile, docker-compose.yml) so the published port reaches it.
_host = os.environ.get("HOST", "").strip() or "127.0.0.1"
if ":" in _host and not _host.startswith("["):  # an IPv6 address such as ::
    _host = f"[{_host}]"
bind = f"{_host}:{_int('PORT', 8000)}"
workers = _int("WEB_CONCURRENCY", 2)
# Threads, so that requests waiting on the node (a cache-first group read, at most
# ajo.chainreads.CHAIN_READ_SLOTS per worker, each bounded by CHAIN_READ_DEADLINE) do not hold
# the whole worker: with sync workers two such reads on a hung node left nobody to answer
# /healthz for seconds. The GIL is no loss here: the work is mostly waiting on PostgreSQL.
worker_class = "gthread"
threads = _int("GUNICORN_THREADS", 4)
# A worker whose main loop stops answering for this long is killed. gthread's main loop keeps
# answering while a request thread works, so a slow request is bounded by its own deadlines
# (every RPC of a web request: CHAIN_READ_DEADLINE; PostgreSQL: statement timeouts), and a
# long CSV export streams to its end (it also reports progress, see ajo/heartbeat.py, which
# keeps it alive should the worker class be sync again).
timeout = _int("GUNICORN_TIMEOUT", 30)
# On SIGTERM (a rolling deploy) workers get this long to finish the requests they hold.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Behind a reverse proxy / load balancer that reuses connections; keep a little above 0.
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# The longest request line gunicorn takes (its default 4,094 bytes, 8,190 at most). A group
# search may hold 200 characters (the API's limit, a 400 beyond), which percent-encoded in a
# non-Latin script take up to 2,400 bytes: with the other filters such a URL is within the
# API's contract, and must reach it rather than end in gunicorn's 414.
limit_request_line = _int("GUNICORN_LIMIT_REQUEST_LINE", 8190)
# Recycle workers now and then so slow leaks cannot grow. A worker takes about half a second
# to boot, and while every worker is booting nobody answers: the jitter is wide so that two
# workers sharing the load do not reach their limit together (at 2,000 ± 200 they did, every
# few thousand requests, and each time the requests of that half second waited).
max_requests = _int("GUNICORN_MAX_REQUESTS", 10_000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 5_000)
# Not preloaded: each worker imports the app after the fork, so no database or Redis
# connection, metrics file or lock is ever shared across processes, and `kill -HUP` picks up
# new code. The price is a second or so of start-up per worker, which is fine at this size.
preload_app = False
# The proxy in front terminates TLS; trust its X-Forwarded-* headers only when told.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# gunicorn's control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl): two
# servers on one host (tests, benchmarks, a second compose project) would fight over it, and
# the container is managed with signals anyway.
control_socket_disable = True

# --- Logging: same formatters as Django (ajo/logging.py); access lines carry the request id ---
_log_format = os.environ.get("LOG_FORMAT", "text")
loglevel = os.environ.get("LOG_LEVEL", "INFO").lower()
logger_class = GunicornLogger
logconfig_dict = gunicorn_logging_config(log_format=_log_format, level=loglevel)
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms "%(a)s" request_id=%({x-request-id}o)s'


def on_starting(server):
    # Metric files left by a previous run would be added to this run's figures.
    PROMETHEUS_MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)
    for path in PROMETHEUS_MULTIPROC_DIR.glob("*.db"):
        path.unlink(missing_ok=True)


def post_worker_init(worker):
    """Import what the first request would (Django, the URLconf and with it every view) before
    this worker takes connections: a worker recycled by max_requests then slows no request down
    (without it, the first request after each recycle waited half a second)."""
    from django.apps import apps

    from ajo import heartbeat

    # A long export (a million CSV rows) stays alive while it streams; see ajo/heartbeat.py.
    heartbeat.register(worker.notify)
    if apps.ready:
        from django.urls import get_resolver

        get_resolver().url_patterns  # noqa: B018 (imports the URLconf and the views)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    # Only the directory this file created is removed; an operator-chosen one is left alone.
    if _own_multiproc_dir:
        shutil.rmtree(PROMETHEUS_MULTIPROC_DIR, ignore_errors=True)
