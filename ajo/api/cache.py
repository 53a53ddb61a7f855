"""The API's answers keyed by what they depend on: the index's generation, the path and the
query. One middleware, last in MIDDLEWARE, so every view stays as it is.

For every request under /api/ it reads the index version (ajo.selectors.index_version: one
primary-key read of the sync state) and puts `X-Indexed-Block` on the answer. For a GET/HEAD:

- `?min_block=N` waits (at most API_MIN_BLOCK_WAIT_SECONDS, a few requests per process at a
  time) until the index has reached block N, else answers 409 with the indexed block.
- An `If-None-Match` that names the current generation gets a 304 at once: the ETag says
  which generation, path and query it was made for (with a MAC over them), so neither the
  tables nor the cache are read.
- Otherwise the shared cache (CACHES["api"]: Redis when configured) is asked for the answer
  made under this generation; a miss runs the view and stores a 200. SyncState.generation
  moves in the transaction of every write of the index, so an entry is exact for as long as
  its generation is the current one, and never served after: nothing is invalidated by a
  timer. The entry's time-out only frees memory, or ends when the answer itself would change
  with the clock (a group whose round deadline passes: the view says when, `mark()`).
- The view runs between two reads of the version (a sequence lock): when a window committed
  meanwhile, its rows may be half in the answer, so the view runs again (twice at most).

Views say what they are with `cache_policy`: INDEX (the default for DRF views: the answer is
a function of the indexed data), LIVE (it shows what is not in the index, such as the chain
head: a digest of the body is its ETag, it is never stored), or None.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections import OrderedDict
from functools import cache
from pathlib import Path

import django
import rest_framework
from django.conf import settings
from django.core.cache import caches
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.utils.http import parse_etags, urlencode
from rest_framework.settings import api_settings

from ajo.api.exceptions import error_body
from ajo.metrics import API_CACHE
from ajo.selectors import IndexVersion, index_version

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
INDEXED_BLOCK_HEADER = "X-Indexed-Block"
CACHE_STATUS_HEADER = "X-Cache"
# Stored by browsers and proxies, but asked again every time: the index moves with every
# block, and a revalidation costs a 304 (see above).
INDEX_CACHE_CONTROL = "public, no-cache"
LIVE_CACHE_CONTROL = "no-cache"
ERROR_CACHE_CONTROL = "no-store"

INDEX = "index"
LIVE = "live"
SOURCE_INDEX = "index"
SOURCE_CHAIN_VIEW = "chain_view"  # rows read from the contract's view functions (cache-first)
_SOURCE_FLAGS = {SOURCE_INDEX: "i", SOURCE_CHAIN_VIEW: "v"}
_FLAG_SOURCES = {flag: source for source, flag in _SOURCE_FLAGS.items()}

MIN_BLOCK_PARAM = "min_block"
# Parameters that do not change the answer, only when it is given.
_NOT_IN_KEY = frozenset({MIN_BLOCK_PARAM})
_MAX_BLOCK = 2**63 - 1
_VIEW_ATTEMPTS = 3
# Queries an answer the view computes costs beyond the view's own: the index version before
# and after it (a hit or a 304 costs the first alone). Tests that pin a view's queries add it.
VERSION_READS = 2
# Headers of a view's answer that a cached copy carries (the outer middleware add the rest,
# to hits and misses alike).
_KEPT_HEADERS = ("Vary", "Allow", "Content-Language")

# Answers this process served lately, in front of the shared cache: an entry is keyed by its
# generation, so a copy can never be stale, and a hit then costs no round trip to Redis.
LOCAL_ENTRIES = 512
_local: OrderedDict[str, tuple] = OrderedDict()
_local_lock = threading.Lock()

_waiters: threading.BoundedSemaphore | None = None
_waiters_lock = threading.Lock()


def mark(response, *, source: str = SOURCE_INDEX, expires_at: int | None = None):
    """What a view knows about its answer: `source` (SOURCE_CHAIN_VIEW when it shows rows read
    from view functions; counted apart), `expires_at` (unix time after which the same data
    gives another answer, such as a deadline that makes a round overdue)."""
    response.ajo_source = source
    response.ajo_expires_at = expires_at
    return response


def cache_policy(policy: str | None):
    """Decorator for function views (and views made by as_view()): INDEX, LIVE or None."""

    def decorate(view):
        view.cache_policy = policy
        return view

    return decorate


def _policy(view_func) -> str | None:
    if hasattr(view_func, "cache_policy"):
        return view_func.cache_policy
    view_class = getattr(view_func, "cls", None)  # DRF's as_view() sets it
    if view_class is None:
        return None
    return getattr(view_class, "cache_policy", INDEX)


@cache
def code_version() -> bytes:
    """What else the answers depend on: the code that makes them. A digest of the project's
    Python sources (and the framework versions), so that after a deploy a shared Redis
    serves nothing the old code made, and an old ETag gets no 304."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{django.__version__}|{rest_framework.VERSION}|{settings.DEBUG}".encode())
    root = Path(settings.BASE_DIR)
    for package in ("ajo", "groups", "contributions"):
        for path in sorted((root / package).rglob("*.py")):
            if "tests" in path.parts or "migrations" in path.parts:
                continue
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.digest()


def _store():
    return caches["api"]


def _read_version() -> IndexVersion | None:
    try:
        return index_version()
    except DatabaseError:
        # The view meets the same database and answers for itself (its 500 or 503).
        logger.warning("cannot read the index version", exc_info=True)
        return None


def request_key(request: HttpRequest) -> str:
    """Path, normalised query (keys sorted, each key's values in their order: a view reads
    the last one), and the Accept header when more than one renderer could answer."""
    query = request.GET
    items = [
        (name, value)
        for name in sorted(query.keys())
        if name not in _NOT_IN_KEY
        for value in query.getlist(name)
    ]
    parts = [request.path, urlencode(items)]
    if len(api_settings.DEFAULT_RENDERER_CLASSES) > 1:
        parts.append(request.headers.get("Accept", ""))
    return "\n".join(parts)


def _mac(generation: int, expires_at: int, flag: str, key: str) -> str:
    message = f"{generation}|{expires_at}|{flag}|{key}".encode()
    return hmac.new(code_version(), message, "blake2b").hexdigest()[:24]


def make_etag(*, generation: int, key: str, source: str, expires_at: int | None) -> str:
    expires = expires_at or 0
    flag = _SOURCE_FLAGS[source]
    return f'W/"{generation}.{expires}.{flag}.{_mac(generation, expires, flag, key)}"'


def _cache_key(generation: int, key: str) -> str:
    digest = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
    return f"{code_version().hex()[:12]}:{generation}:{digest}"


def _matching(tags: list[str], *, generation: int, key: str) -> tuple[str, str] | None:
    """(tag, source) of the first tag that was made for this generation, path and query and
    has not expired; None when none was."""
    now = time.time()
    for tag in tags:
        parts = tag.removeprefix("W/").strip('"').split(".")
        if len(parts) != 4 or parts[0] != str(generation) or parts[2] not in _FLAG_SOURCES:
            continue
        if not parts[1].isdigit() or len(parts[1]) > 12:
            continue
        expires = int(parts[1])
        if expires and now > expires:
            continue
        if hmac.compare_digest(parts[3], _mac(generation, expires, parts[2], key)):
            return tag, _FLAG_SOURCES[parts[2]]
    return None


def _digest_etag(content: bytes) -> str:
    return f'W/"d.{hashlib.blake2b(content, digest_size=12).hexdigest()}"'


def _not_modified(etag: str, cache_control: str, vary: str | None = None) -> HttpResponse:
    response = HttpResponseNotModified()
    response["ETag"] = etag
    response["Cache-Control"] = cache_control
    if vary:
        response["Vary"] = vary
    return response


def _count(result: str, source: str = SOURCE_INDEX) -> None:
    API_CACHE.labels(result=result, source=source).inc()


# --- ?min_block= ------------------------------------------------------------------------------


def _min_block(request: HttpRequest) -> int | JsonResponse | None:
    raw = request.GET.get(MIN_BLOCK_PARAM)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or int(raw) > _MAX_BLOCK:
        message = f"must be a block number, a whole number from 0 to {_MAX_BLOCK}"
        response = JsonResponse(
            error_body("invalid", f"{MIN_BLOCK_PARAM}: {message}", {MIN_BLOCK_PARAM: [message]}),
            status=400,
        )
        return response
    return int(raw)


def _waiter_slots() -> threading.BoundedSemaphore:
    global _waiters
    with _waiters_lock:
        if _waiters is None:
            _waiters = threading.BoundedSemaphore(max(settings.API_MIN_BLOCK_WAITERS, 1))
        return _waiters


def wait_for_block(block: int, version: IndexVersion) -> tuple[IndexVersion, float, bool]:
    """Poll the index version until it reaches `block` or API_MIN_BLOCK_WAIT_SECONDS pass.
    Returns (version, seconds waited, whether it was allowed to wait). At most
    API_MIN_BLOCK_WAITERS requests of a process wait at once: the others keep the threads
    that answer everything else."""
    if version.block >= block:
        return version, 0.0, True
    timeout = settings.API_MIN_BLOCK_WAIT_SECONDS
    slots = _waiter_slots()
    if timeout <= 0 or not slots.acquire(blocking=False):
        return version, 0.0, timeout <= 0
    started = time.monotonic()
    try:
        delay = 0.02
        while True:
            remaining = started + timeout - time.monotonic()
            if remaining <= 0:
                break
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.2)
            latest = _read_version()
            if latest is not None:
                version = latest
                if version.block >= block:
                    break
    finally:
        slots.release()
    return version, time.monotonic() - started, True


def _index_behind(block: int, version: IndexVersion, waited: float, allowed: bool):
    if allowed:
        message = (
            f"the index is at block {version.block}, not yet at block {block} (waited "
            f"{waited:.1f} s): try again shortly"
        )
    else:
        message = (
            f"the index is at block {version.block}, not yet at block {block}, and this "
            f"server already has as many requests waiting for the index as it allows: try "
            f"again shortly"
        )
    response = JsonResponse(
        error_body(
            "index_behind",
            message,
            {"indexed_block": version.block, "min_block": block},
        ),
        status=409,
    )
    response["Retry-After"] = "1"
    return response


# --- the middleware ---------------------------------------------------------------------------


class ApiCacheMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        if not request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        request.ajo_index_version = None
        response = self.get_response(request)
        version = request.ajo_index_version
        if version is None:
            # Not a GET seen by process_view (a POST, a 405): as of after its work, so an
            # ingest answers with the block the index stands at once its rows are in.
            version = _read_version()
        if version is not None:
            response[INDEXED_BLOCK_HEADER] = str(version.block)
        if response.status_code not in (200, 304) and not response.has_header("Cache-Control"):
            response["Cache-Control"] = ERROR_CACHE_CONTROL
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        if request.method not in ("GET", "HEAD") or not request.path_info.startswith(API_PREFIX):
            return None
        version = _read_version()
        if version is None:
            return None
        wanted = _min_block(request)
        if isinstance(wanted, HttpResponse):
            request.ajo_index_version = version
            return wanted
        if wanted is not None:
            version, waited, allowed = wait_for_block(wanted, version)
            if version.block < wanted:
                request.ajo_index_version = version
                _count("uncached")
                return _index_behind(wanted, version, waited, allowed)
        request.ajo_index_version = version
        policy = _policy(view_func)
        if policy is None:
            return None
        tags = parse_etags(request.headers.get("If-None-Match", ""))
        if policy == INDEX and version.generation is not None:
            return self._serve_indexed(request, view_func, view_args, view_kwargs, version, tags)
        return self._serve_live(request, view_func, view_args, view_kwargs, version, tags)

    def _serve_indexed(self, request, view_func, view_args, view_kwargs, version, tags):
        key = request_key(request)
        generation = version.generation
        if tags and tags != ["*"]:
            matched = _matching(tags, generation=generation, key=key)
            if matched is not None:
                etag, source = matched
                _count("not_modified", source)
                return _not_modified(etag, INDEX_CACHE_CONTROL)
        cache_key = _cache_key(generation, key)
        entry = self._cache_get(cache_key)
        if entry is not None:
            content, content_type, headers, etag, source, expires_at = entry
            if expires_at is None or time.time() <= expires_at:
                _count("hit", source)
                if tags == ["*"]:
                    return _not_modified(etag, INDEX_CACHE_CONTROL, dict(headers).get("Vary"))
                response = HttpResponse(content, content_type=content_type)
                for name, value in headers:
                    response[name] = value
                response["ETag"] = etag
                response["Cache-Control"] = INDEX_CACHE_CONTROL
                response[CACHE_STATUS_HEADER] = "hit"
                return response
        response, version, stable = self._run_view(
            request, view_func, view_args, view_kwargs, version
        )
        request.ajo_index_version = version
        source = getattr(response, "ajo_source", SOURCE_INDEX)
        if response.status_code != 200 or getattr(response, "streaming", False):
            _count("uncached", source)
            return response
        if not stable:
            # A write landed while the view ran: the answer is right for the block in its
            # header, but its generation is already gone; nothing to store it under.
            _count("uncached", source)
            response["ETag"] = _digest_etag(response.content)
            response["Cache-Control"] = LIVE_CACHE_CONTROL
            return response
        expires_at = getattr(response, "ajo_expires_at", None)
        etag = make_etag(
            generation=version.generation, key=key, source=source, expires_at=expires_at
        )
        response["ETag"] = etag
        response["Cache-Control"] = INDEX_CACHE_CONTROL
        response[CACHE_STATUS_HEADER] = "miss"
        timeout = settings.API_CACHE_SECONDS
        if expires_at is not None:
            timeout = min(timeout, expires_at - time.time())
        if timeout > 0:
            headers = tuple((name, response[name]) for name in _KEPT_HEADERS if name in response)
            entry = (
                response.content,
                response["Content-Type"],
                headers,
                etag,
                source,
                expires_at,
            )
            self._cache_set(cache_key, entry, timeout)
        _count("miss", source)
        if tags == ["*"]:
            return _not_modified(etag, INDEX_CACHE_CONTROL, response.get("Vary"))
        return response

    def _serve_live(self, request, view_func, view_args, view_kwargs, version, tags):
        response, version, _ = self._run_view(request, view_func, view_args, view_kwargs, version)
        request.ajo_index_version = version
        _count("uncached", getattr(response, "ajo_source", SOURCE_INDEX))
        if response.status_code != 200 or getattr(response, "streaming", False):
            return response
        etag = _digest_etag(response.content)
        if tags == ["*"] or etag in tags or etag.removeprefix("W/") in tags:
            return _not_modified(etag, LIVE_CACHE_CONTROL, response.get("Vary"))
        response["ETag"] = etag
        response["Cache-Control"] = LIVE_CACHE_CONTROL
        return response

    @staticmethod
    def _run_view(request, view_func, view_args, view_kwargs, version):
        """Run the view between two reads of the index version. Returns (response, version,
        stable): stable when no write landed meanwhile. When a window committed (the block
        moved) the view runs again; when only rows ahead of the checkpoint moved (an
        ingested transaction, a group read from view functions) the answer stands for the
        same block but is not stored."""
        for _ in range(_VIEW_ATTEMPTS):
            response = view_func(request, *view_args, **view_kwargs)
            if hasattr(response, "render") and callable(response.render):
                response = response.render()
            after = _read_version()
            if after is None or after == version:
                return response, version, True
            if after.block == version.block:
                return response, version, False
            version = after
        return response, version, False

    @staticmethod
    def _cache_get(key: str):
        with _local_lock:
            entry = _local.get(key)
            if entry is not None:
                _local.move_to_end(key)
                return entry
        try:
            entry = _store().get(key)
        except Exception:  # a cache outage costs a recomputation, never an error
            logger.warning("API cache unavailable", exc_info=True)
            return None
        if entry is not None:
            _remember(key, entry)
        return entry

    @staticmethod
    def _cache_set(key: str, entry, timeout: float) -> None:
        _remember(key, entry)
        try:
            _store().set(key, entry, timeout)
        except Exception:
            logger.warning("API cache unavailable", exc_info=True)


def _remember(key: str, entry) -> None:
    with _local_lock:
        _local[key] = entry
        _local.move_to_end(key)
        while len(_local) > LOCAL_ENTRIES:
            _local.popitem(last=False)
