"""Benchmark: sync_chain against a raw eth_getLogs fetch of the same chain, on PostgreSQL.

    python bench/sync.py [--groups 1150] [--members 10] [--rounds 10] [--seed 1] [--rebuild]
                         [--database-url postgres://postgres@127.0.0.1:5432/ajo_bench_sync]

Builds a chain of 100,000+ contribution events with simulate_chain on a private anvil once and
keeps it as an anvil state dump under bench/out/ (reused while the parameters match), then:
1. raw fetch: eth_getLogs over the whole range in 2,000-block windows, JSON parsed, nothing
   else: the floor any indexer pays;
2. `manage.py sync_chain --json` into a fresh PostgreSQL database, as ops run it, with its
   peak memory (max RSS of the process);
3. `manage.py verify_chain`: the result must equal the chain.
Prints events/s, the ratio to the raw fetch and peak memory, beside Ponder's figures measured
on this kind of machine (PEERS.md). Runs only against loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ajo.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-insecure-key")

import psycopg  # noqa: E402

from ajo.engine.rpc import RpcClient  # noqa: E402
from devtools import simulate  # noqa: E402
from devtools.anvil import AnvilNode  # noqa: E402
from devtools.deploy import deploy_contracts  # noqa: E402

OUT = ROOT / "bench" / "out"
PEAK_RSS_WRAPPER = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
    "print('peak-rss-kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
    "file=sys.stderr); sys.exit(code)"
)
PONDER = [
    ("Ponder 0.16.10 into PostgreSQL, empty RPC cache", 87.5, 1_317, 753),
    ("Ponder 0.16.10 into PGlite", 95.7, 1_204, 946),
    ("Ponder 0.16.10, RPC responses cached", 10.6, 10_909, 625),
    ("Ponder 0.10 into PostgreSQL", 50.0, 2_304, 678),
]


def build_or_load_chain(args) -> tuple[AnvilNode, dict]:
    key = f"chain-g{args.groups}-m{args.members}-r{args.rounds}-s{args.seed}"
    state, meta_path = OUT / f"{key}.state.json", OUT / f"{key}.meta.json"
    if state.exists() and meta_path.exists() and not args.rebuild:
        node = AnvilNode(extra_args=["--load-state", str(state)])
        meta = json.loads(meta_path.read_text())
        logs = RpcClient(node.url).call(
            "eth_getLogs", [{"address": meta["ajo"], "fromBlock": "0x0", "toBlock": "latest"}]
        )
        if len(logs) == meta["events"]:
            print(f"chain: reusing {state.relative_to(ROOT)} ({meta['events']:,} events)")
            return node, meta
        node.stop()
        print("chain: the saved state does not hold the logs; rebuilding")
    OUT.mkdir(parents=True, exist_ok=True)
    node = AnvilNode(extra_args=["--dump-state", str(state)])
    deployment = deploy_contracts(rpc_url=node.url)
    started = time.monotonic()
    counts = simulate.run(
        rpc_url=node.url,
        ajo_address=deployment.ajo,
        token_address=deployment.token,
        groups=args.groups,
        members=args.members,
        rounds=args.rounds,
        seed=args.seed,
    )
    elapsed = time.monotonic() - started
    logs = RpcClient(node.url).call(
        "eth_getLogs", [{"address": deployment.ajo, "fromBlock": "0x0", "toBlock": "latest"}]
    )
    meta = {
        "ajo": deployment.ajo,
        "token": deployment.token,
        "start_block": deployment.block,
        "events": len(logs),
        "counts": counts.as_dict(),
        "simulate_seconds": round(elapsed, 1),
    }
    meta_path.write_text(json.dumps(meta, indent=2))
    print(f"chain: simulated in {elapsed:.1f}s: {json.dumps(counts.as_dict())}")
    # SIGTERM makes anvil write the state dump; a big chain takes a while, so wait for it.
    node.process.terminate()
    node.process.wait(timeout=600)
    node.stop()
    node = AnvilNode(extra_args=["--load-state", str(state)])
    return node, meta


def raw_fetch(url: str, meta: dict, window: int = 2000) -> tuple[float, int]:
    client = RpcClient(url)
    head = client.block_number()
    started = time.perf_counter()
    total = 0
    for first in range(meta["start_block"], head + 1, window):
        logs = client.call(
            "eth_getLogs",
            [
                {
                    "address": meta["ajo"],
                    "fromBlock": hex(first),
                    "toBlock": hex(min(first + window - 1, head)),
                }
            ],
        )
        total += len(logs)
    return time.perf_counter() - started, total


def fresh_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--groups", type=int, default=1150)
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/ajo_bench_sync"
    )
    args = parser.parse_args()

    node, meta = build_or_load_chain(args)
    try:
        raw_seconds, raw_events = raw_fetch(node.url, meta)
        assert raw_events == meta["events"], (raw_events, meta["events"])
        fresh_database(args.database_url)
        env = {
            **os.environ,
            "DATABASE_URL": args.database_url,
            "CHAIN_RPC_URL": node.url,
            "AJO_CONTRACT_ADDRESS": meta["ajo"],
            "AJO_START_BLOCK": str(meta["start_block"]),
            "LOG_LEVEL": "WARNING",
        }
        migrate = manage("migrate", "--noinput", env=env)
        assert migrate.returncode == 0, migrate.stderr
        started = time.perf_counter()
        # Through a small wrapper that reports its own child's peak RSS: this process's
        # RUSAGE_CHILDREN would include anvil, which holds the whole chain in memory.
        synced = subprocess.run(
            [
                sys.executable,
                "-c",
                PEAK_RSS_WRAPPER,
                sys.executable,
                "manage.py",
                "sync_chain",
                "--json",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=1800,
        )
        wall = time.perf_counter() - started
        assert synced.returncode == 0, synced.stderr
        peak_mb = int(synced.stderr.strip().splitlines()[-1].split()[-1]) / 1024
        summary = json.loads(synced.stdout.strip().splitlines()[-1])
        verified = manage("verify_chain", env=env)
        exact = verified.returncode == 0
    finally:
        node.stop()

    events, seconds = summary["events"], summary["seconds"]
    assert events == meta["events"], (events, meta["events"])
    print()
    print(f"chain: {events:,} events in {summary['to_block'] - summary['from_block'] + 1:,} blocks")
    print(f"{'what':<52} {'time':>8} {'events/s':>10} {'peak MB':>8}")
    print(
        f"{'raw eth_getLogs + JSON parse, 2,000-block windows':<52} "
        f"{raw_seconds:>7.2f}s {raw_events / raw_seconds:>10,.0f} {'-':>8}"
    )
    print(
        f"{'ajo sync_chain into PostgreSQL (sync loop)':<52} "
        f"{seconds:>7.2f}s {events / seconds:>10,.0f} {peak_mb:>8.0f}"
    )
    print(
        f"{'ajo sync_chain, whole command (incl. start-up)':<52} "
        f"{wall:>7.2f}s {events / wall:>10,.0f} {peak_mb:>8.0f}"
    )
    for name, p_seconds, p_rate, p_mb in PONDER:
        print(f"{name:<52} {p_seconds:>7.1f}s {p_rate:>10,} {p_mb:>8}")
    print()
    print(
        f"ratio sync / raw fetch: {seconds / raw_seconds:.2f}x (sync loop), "
        f"{wall / raw_seconds:.2f}x (whole command)"
    )
    print(f"verify_chain: {'database agrees with the chain' if exact else verified.stdout[-500:]}")
    if not exact:
        sys.exit(1)


if __name__ == "__main__":
    main()
