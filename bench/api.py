"""API benchmark: the read endpoints under gunicorn on the large dataset, beside a baseline.

    python bench/api.py [--database-url URL] [--seconds S] [--connections C] [--workers W]
                        [--cache-url URL] [--follow-seconds S] [--no-follow]

Builds (or reuses) the bench/dataset.py database, starts gunicorn with gunicorn.conf.py on a
free loopback port (DEBUG off, the response cache in Redis when one answers) and measures each
endpoint with wrk, three ways: cold (every request a cache miss: the answer computed and stored,
as for the first request after a window commits; each request gets a query parameter of its
own, which no view reads), warm (the same request again: a cache hit) and 304 (with the ETag in
If-None-Match). Each with one connection (p50/p99) and with C connections (requests/s). The
baseline is a minimal Django JSON view served by the same gunicorn through the same middleware
(bench/api_app.py).

Then the follow run: a private anvil with simulated groups, synced into a scratch database,
gunicorn on it, `sync_chain --follow --poll-interval 1` and a driver that sends new activity
every second, while clients read the endpoints. It reports how many windows committed, the
hit rate, and checks every answer against the database as of the block in its
X-Indexed-Block (no answer may be stale).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.dataset import DEFAULT_DATABASE_URL, _admin_url, ensure_dataset  # noqa: E402
from devtools import simulate  # noqa: E402
from devtools.anvil import AnvilNode  # noqa: E402
from devtools.deploy import deploy_contracts  # noqa: E402

BASELINE_PATH = "/bench/baseline/"  # routed by bench/api_app.py
LOG_PATH = Path(os.environ.get("TMPDIR", "/tmp")) / "ajo-bench-api-gunicorn.log"


# --- the benchmark ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_gunicorn(
    database_url: str, port: int, workers: int, *, cache_url: str = "", **extra: str
) -> subprocess.Popen:
    env = {
        **os.environ,
        "CACHE_URL": cache_url,
        # Cold runs store an answer per request: let them go soon.
        "API_CACHE_SECONDS": "60",
        # Steady state: a worker recycled in the middle of a wrk run (max_requests) left wrk
        # waiting on a connection gunicorn had closed.
        "GUNICORN_MAX_REQUESTS": "0",
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret-key-" + "x" * 40),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "WEB_CONCURRENCY": str(workers),
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        # Nothing listens here: /api/sync/ reports the node as unreachable (cached 5 s).
        "CHAIN_RPC_URL": f"http://127.0.0.1:{_free_port()}",
        "AJO_CONTRACT_ADDRESS": "",
        **extra,
    }
    command = [sys.executable, "-m", "gunicorn"]
    if (ROOT / "gunicorn.conf.py").exists():
        command += ["-c", "gunicorn.conf.py"]
    else:  # equivalent flags while gunicorn.conf.py is missing
        command += ["--workers", str(workers), "--worker-class", "sync"]
    command += ["--bind", f"127.0.0.1:{port}", "bench.api_app:application"]
    log = open(LOG_PATH, "w")  # noqa: SIM115 (handed to the child; closed by the OS)
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode} (see {LOG_PATH})")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    _stop(process)
    raise SystemExit("gunicorn did not answer within 30 s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _sample_targets(database_url: str) -> dict[str, str]:
    """Ids and addresses that exist in the dataset, for realistic URLs."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        group_id = conn.execute(
            "SELECT id FROM groups_group WHERE status = 'active' AND member_count >= 10 "
            "ORDER BY id LIMIT 1"
        ).fetchone()[0]
        address = conn.execute(
            "SELECT address FROM groups_user WHERE contribution_count > 0 ORDER BY id LIMIT 1"
        ).fetchone()[0]
    return {"group_id": str(group_id), "address": address}


def endpoints(targets: dict[str, str]) -> list[tuple[str, str]]:
    g, a = targets["group_id"], targets["address"]
    return [
        ("baseline (minimal Django JSON view)", BASELINE_PATH),
        ("group detail", f"/api/groups/{g}/"),
        ("group list", "/api/groups/"),
        ("group list ?status=active", "/api/groups/?status=active"),
        ("group list ?member=", f"/api/groups/?member={a}"),
        ("group list ?search=lagos", "/api/groups/?search=lagos"),
        ("group members", f"/api/groups/{g}/members/"),
        ("group contributions", f"/api/groups/{g}/contributions/"),
        ("group payouts", f"/api/groups/{g}/payouts/"),
        ("contributions", "/api/contributions/"),
        ("contributions ?late=true", "/api/contributions/?late=true"),
        ("contributions ?member=", f"/api/contributions/?member={a}"),
        ("payouts", "/api/payouts/"),
        ("user", f"/api/users/{a}/"),
        ("user groups", f"/api/users/{a}/groups/"),
        ("sync status", "/api/sync/"),
    ]


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * _UNITS[unit]


# Every request of a cold run a path of its own: a query parameter no view reads, unique per
# wrk thread and request (and per run, through the nonce), so each one is a cache miss.
COLD_SCRIPT = """
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  nonce = args[1] or "0"
  counter = 0
  separator = string.find(wrk.path, "?", 1, true) and "&" or "?"
end
function request()
  counter = counter + 1
  local path = wrk.path .. separator .. "_cold=" .. nonce .. "-" .. tid .. "-" .. counter
  return wrk.format(nil, path)
end
"""


def _wrk(
    url: str,
    *,
    connections: int,
    seconds: int,
    script: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict:
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", script]
    command.append(url)
    if script is not None:
        command += ["--", str(time.monotonic_ns())]
    out = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": p50, "p99": p99, "non_2xx": int(errors.group(1)) if errors else 0}


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _redis_url() -> str:
    """The shared cache, as compose runs it: Redis DB 5 at 127.0.0.1 when it answers."""
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            if sock.recv(16).startswith(b"+PONG"):
                return "redis://127.0.0.1:6379/5"
    except OSError:
        pass
    return ""


def _row(name: str, path: str, phase: str, single: dict, loaded: dict) -> dict:
    return {
        "endpoint": name,
        "path": path,
        "phase": phase,
        "p50_ms": round(single["p50"], 2),
        "p99_ms": round(single["p99"], 2),
        "rps": round(loaded["rps"]),
        "loaded_p50_ms": round(loaded["p50"], 2),
        "loaded_p99_ms": round(loaded["p99"], 2),
        "non_2xx": single["non_2xx"] + loaded["non_2xx"],
    }


def run(
    *, database_url: str, seconds: int, connections: int, workers: int, cache_url: str
) -> list[dict]:
    """Cold, warm and 304 figures per endpoint on the large dataset."""
    started = time.monotonic()
    built = ensure_dataset(database_url=database_url)
    print(f"dataset: {'built' if built else 'reused'} in {time.monotonic() - started:.0f} s")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    targets = _sample_targets(database_url)
    port = _free_port()
    server = _start_gunicorn(database_url, port, workers, cache_url=cache_url)
    rows = []
    script = LOG_PATH.with_name("ajo-bench-api-cold.lua")
    script.write_text(COLD_SCRIPT)
    try:
        for name, path in endpoints(targets):
            url = f"http://127.0.0.1:{port}{path}"
            status, headers, _ = _get(url)
            assert status == 200, (path, status)

            def both(url=url, **kwargs):
                single = _wrk(url, connections=1, seconds=seconds, **kwargs)
                loaded = _wrk(url, connections=connections, seconds=seconds, **kwargs)
                return single, loaded

            print(f"  {name} ...", flush=True)
            rows.append(_row(name, path, "cold", *both(script=str(script))))
            rows.append(_row(name, path, "warm", *both()))
            etag = headers.get("ETag")
            if etag and path != BASELINE_PATH and _get(url, {"If-None-Match": etag})[0] == 304:
                rows.append(_row(name, path, "304", *both(headers={"If-None-Match": etag})))
    finally:
        _stop(server)
        script.unlink(missing_ok=True)
    base = next(r["rps"] for r in rows if r["path"] == BASELINE_PATH and r["phase"] == "warm")
    for row in rows:
        row["vs_baseline"] = round(row["rps"] / base, 2) if base else None
    return rows


def print_table(rows: list[dict], *, connections: int) -> None:
    header = (
        f"{'endpoint':34} {'phase':5} {'p50 ms':>7} {'p99 ms':>7} {'req/s':>7} "
        f"{'p50@' + str(connections):>8} {'p99@' + str(connections):>8} {'x base':>7}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['endpoint']:34} {row['phase']:5} {row['p50_ms']:>7.2f} {row['p99_ms']:>7.2f} "
            f"{row['rps']:>7} {row['loaded_p50_ms']:>8.2f} {row['loaded_p99_ms']:>8.2f} "
            f"{row['vs_baseline']:>7}" + (f"  ({row['non_2xx']} non-2xx)" if row["non_2xx"] else "")
        )


# --- the follow run ---------------------------------------------------------------------------

FOLLOW_PATHS = [
    "/api/contributions/",
    "/api/groups/",
    "/api/groups/1/",
    "/api/groups/2/contributions/",
    "/api/payouts/",
]


def _manage(*args: str, env: dict[str, str], timeout: float = 300) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {args[0]} failed: {result.stderr.strip()[-1000:]}")
    return result.stdout


def _expected(conn, path: str, block: int):
    """What `path` shows as of `block`, from the database after the run (no reorg in it, so
    rows up to a block never change once indexed)."""
    if path == "/api/contributions/" or path == "/api/payouts/":
        table = "contributions_contribution" if "contrib" in path else "contributions_payout"
        rows = conn.execute(
            f"SELECT tx_hash, log_index FROM {table} WHERE block_number <= %s "
            "ORDER BY block_number DESC, log_index DESC LIMIT 25",
            [block],
        ).fetchall()
        return [list(row) for row in rows]
    if path == "/api/groups/":
        return conn.execute(
            "SELECT count(*) FROM groups_group WHERE created_block <= %s", [block]
        ).fetchone()[0]
    if path == "/api/groups/1/":
        return conn.execute(
            "SELECT count(*) FROM contributions_contribution WHERE group_id = 1 "
            "AND block_number <= %s",
            [block],
        ).fetchone()[0]
    rows = conn.execute(
        "SELECT tx_hash, log_index FROM contributions_contribution WHERE group_id = 2 "
        "AND block_number <= %s ORDER BY block_number DESC, log_index DESC LIMIT 25",
        [block],
    ).fetchall()
    return [list(row) for row in rows]


def _seen(path: str, body: dict):
    if path in ("/api/contributions/", "/api/payouts/", "/api/groups/2/contributions/"):
        return [[row["tx_hash"], row["log_index"]] for row in body["results"]]
    if path == "/api/groups/":
        return body["count"]
    return body["contribution_count"]


def _metric(port: int, result: str) -> int:
    _, _, body = _get(f"http://127.0.0.1:{port}/metrics")
    total = 0
    for line in body.decode().splitlines():
        if line.startswith("ajo_api_cache_total{") and f'result="{result}"' in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def follow_run(*, database_url: str, seconds: int, workers: int, cache_url: str) -> dict:
    """Reads while `sync_chain --follow` commits a window about every second."""
    follow_url = database_url.rsplit("/", 1)[0] + "/" + _admin_url(database_url)[1] + "_follow"
    admin, name = _admin_url(follow_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    with AnvilNode() as node:
        deployment = deploy_contracts(rpc_url=node.url)
        env = {
            **os.environ,
            "DATABASE_URL": follow_url,
            "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret-key-" + "x" * 40),
            "DJANGO_SETTINGS_MODULE": "ajo.settings",
            "CHAIN_RPC_URL": node.url,
            "AJO_CONTRACT_ADDRESS": deployment.ajo,
            "AJO_TOKEN_ADDRESS": deployment.token,
            "AJO_START_BLOCK": str(deployment.block),
            "CACHE_URL": cache_url,
            "LOG_LEVEL": "WARNING",
        }
        _manage("migrate", "--noinput", "-v0", env=env)
        _manage("simulate_chain", "--groups", "20", "--members", "4", "--rounds", "4", env=env)
        _manage("sync_chain", env=env)
        port = _free_port()
        server = _start_gunicorn(
            follow_url,
            port,
            workers,
            cache_url=cache_url,
            CHAIN_RPC_URL=node.url,
            AJO_CONTRACT_ADDRESS=deployment.ajo,
        )
        sync = subprocess.Popen(
            [sys.executable, "manage.py", "sync_chain", "--follow", "--poll-interval", "1"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        stop = threading.Event()
        answers: list[tuple[str, int, str, str, bytes]] = []
        lock = threading.Lock()

        def drive() -> None:  # new activity about every second: a group, its joins, payments
            seed = 10_000
            while not stop.is_set():
                began = time.monotonic()
                seed += 1
                simulate.run(
                    rpc_url=node.url,
                    ajo_address=deployment.ajo,
                    token_address=deployment.token,
                    groups=1,
                    members=2,
                    rounds=2,
                    seed=seed,
                )
                stop.wait(max(0.0, 1.0 - (time.monotonic() - began)))

        def read() -> None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            index = 0
            while not stop.is_set():
                path = FOLLOW_PATHS[index % len(FOLLOW_PATHS)]
                index += 1
                connection.request("GET", path)
                response = connection.getresponse()
                body = response.read()
                with lock:
                    answers.append(
                        (
                            path,
                            response.status,
                            response.getheader("X-Indexed-Block") or "",
                            response.getheader("X-Cache") or "",
                            body,
                        )
                    )
            connection.close()

        hits_before, misses_before = _metric(port, "hit"), _metric(port, "miss")
        threads = [threading.Thread(target=drive)] + [
            threading.Thread(target=read) for _ in range(4)
        ]
        try:
            for thread in threads:
                thread.start()
            time.sleep(seconds)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
            hits, misses = _metric(port, "hit") - hits_before, _metric(port, "miss") - misses_before
            os.killpg(sync.pid, signal.SIGTERM)
            sync.wait(timeout=30)
            _stop(server)
        stale, checked = [], 0
        blocks = set()
        with psycopg.connect(follow_url) as conn:
            expected_cache: dict[tuple[str, int], object] = {}
            for path, status, block_header, _, body in answers:
                if status != 200:
                    stale.append(f"{path}: status {status}")
                    continue
                block = int(block_header)
                blocks.add(block)
                key = (path, block)
                if key not in expected_cache:
                    expected_cache[key] = _expected(conn, path, block)
                checked += 1
                if _seen(path, json.loads(body)) != expected_cache[key]:
                    stale.append(f"{path} at block {block}")
    answered = len(answers)
    return {
        "seconds": seconds,
        "answers": answered,
        "rps": round(answered / seconds),
        "windows": len(blocks),
        "hit_rate": round(hits / (hits + misses), 3) if hits + misses else None,
        "hits": hits,
        "misses": misses,
        "checked": checked,
        "stale": stale[:10],
        "stale_count": len(stale),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument("--seconds", type=int, default=3, help="per endpoint and phase")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--cache-url",
        default=None,
        help="CACHE_URL of the server (default: Redis DB 5 on 127.0.0.1 if it answers, "
        "else local memory)",
    )
    parser.add_argument("--follow-seconds", type=int, default=20)
    parser.add_argument("--no-follow", action="store_true", help="skip the follow run")
    parser.add_argument("--no-endpoints", action="store_true", help="only the follow run")
    parser.add_argument("--json", action="store_true", help="last line: the results as JSON")
    args = parser.parse_args(argv)
    cache_url = _redis_url() if args.cache_url is None else args.cache_url
    print(f"response cache: {cache_url or 'local memory'}")
    rows = []
    if not args.no_endpoints:
        rows = run(
            database_url=args.database_url,
            seconds=args.seconds,
            connections=args.connections,
            workers=args.workers,
            cache_url=cache_url,
        )
        print_table(rows, connections=args.connections)
    follow = None
    if not args.no_follow:
        follow = follow_run(
            database_url=args.database_url,
            seconds=args.follow_seconds,
            workers=args.workers,
            cache_url=cache_url,
        )
        print(
            f"follow run: {follow['answers']} answers in {follow['seconds']} s "
            f"({follow['rps']} req/s, 4 clients) while {follow['windows']} windows committed; "
            f"hit rate {follow['hit_rate']} ({follow['hits']} hits, {follow['misses']} misses); "
            f"{follow['checked']} answers checked against the database at their "
            f"X-Indexed-Block: {follow['stale_count']} stale"
        )
        for line in follow["stale"]:
            print("  stale:", line)
    if args.json:
        print(json.dumps({"endpoints": rows, "follow": follow}))
    return 1 if follow and follow["stale_count"] else 0


if __name__ == "__main__":
    sys.exit(main())
