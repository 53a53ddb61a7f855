"""API benchmark: the read endpoints under gunicorn on the large dataset, beside a baseline.

    python bench/api.py [--database-url URL] [--seconds S] [--connections C] [--workers W]

Builds (or reuses) the bench/dataset.py database, starts gunicorn with gunicorn.conf.py on a
free loopback port (DEBUG off), and measures each endpoint with wrk: latency with one
connection (p50/p99) and throughput with C connections (requests/s). The baseline is a minimal
Django JSON view served by the same gunicorn through the same middleware (bench/api_app.py).
Prints a table with each endpoint's throughput as a share of the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.dataset import DEFAULT_DATABASE_URL, ensure_dataset  # noqa: E402

BASELINE_PATH = "/bench/baseline/"  # routed by bench/api_app.py
LOG_PATH = Path(os.environ.get("TMPDIR", "/tmp")) / "ajo-bench-api-gunicorn.log"


# --- the benchmark ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_gunicorn(database_url: str, port: int, workers: int) -> subprocess.Popen:
    env = {
        **os.environ,
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


def _wrk(url: str, *, connections: int, seconds: int) -> dict:
    threads = min(2, connections)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url],
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


def run(*, database_url: str, seconds: int, connections: int, workers: int) -> list[dict]:
    started = time.monotonic()
    built = ensure_dataset(database_url=database_url)
    print(f"dataset: {'built' if built else 'reused'} in {time.monotonic() - started:.0f} s")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    targets = _sample_targets(database_url)
    port = _free_port()
    server = _start_gunicorn(database_url, port, workers)
    rows = []
    try:
        for name, path in endpoints(targets):
            url = f"http://127.0.0.1:{port}{path}"
            with urllib.request.urlopen(url, timeout=10) as response:
                assert response.status == 200, (path, response.status)
            single = _wrk(url, connections=1, seconds=seconds)
            loaded = _wrk(url, connections=connections, seconds=seconds)
            rows.append(
                {
                    "endpoint": name,
                    "path": path,
                    "p50_ms": round(single["p50"], 2),
                    "p99_ms": round(single["p99"], 2),
                    "rps": round(loaded["rps"]),
                    "loaded_p50_ms": round(loaded["p50"], 2),
                    "loaded_p99_ms": round(loaded["p99"], 2),
                    "non_2xx": single["non_2xx"] + loaded["non_2xx"],
                }
            )
    finally:
        _stop(server)
    base = rows[0]["rps"]
    for row in rows:
        row["vs_baseline"] = round(row["rps"] / base, 2) if base else None
    return rows


def print_table(rows: list[dict], *, connections: int) -> None:
    header = (
        f"{'endpoint':38} {'p50 ms':>7} {'p99 ms':>7} {'req/s':>7} "
        f"{'p50@' + str(connections):>8} {'p99@' + str(connections):>8} {'x base':>7}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['endpoint']:38} {row['p50_ms']:>7.2f} {row['p99_ms']:>7.2f} {row['rps']:>7} "
            f"{row['loaded_p50_ms']:>8.2f} {row['loaded_p99_ms']:>8.2f} {row['vs_baseline']:>7}"
            + (f"  ({row['non_2xx']} non-2xx)" if row["non_2xx"] else "")
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument("--seconds", type=int, default=3, help="per endpoint and phase")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="last line: the rows as JSON")
    args = parser.parse_args(argv)
    rows = run(
        database_url=args.database_url,
        seconds=args.seconds,
        connections=args.connections,
        workers=args.workers,
    )
    print_table(rows, connections=args.connections)
    if args.json:
        print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
