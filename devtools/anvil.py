"""Starts and stops a local anvil node (from the pinned npm package) for tests and demos."""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from ajo.engine.rpc import RpcClient, RpcError, RpcUnavailable


class AnvilError(RuntimeError):
    """anvil is missing or did not start."""


def repo_root() -> Path:
    try:
        from django.conf import settings

        if settings.configured:
            return Path(settings.BASE_DIR)
    except ImportError:  # pragma: no cover - Django is a dependency
        pass
    return Path(__file__).resolve().parents[1]


def anvil_binary(root: Path | None = None) -> Path:
    """The anvil executable installed by `npm ci`.

    The platform package's binary is preferred over the node wrapper in node_modules/.bin:
    signals then reach anvil itself and no node process sits in between.
    """
    root = root or repo_root()
    modules = root / "node_modules"
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    system = {"linux": "linux", "darwin": "darwin", "win32": "win32"}.get(sys.platform, "")
    name = "anvil.exe" if system == "win32" else "anvil"
    candidates = [
        modules / "@foundry-rs" / f"anvil-{system}-{arch}" / "bin" / name,
        modules / ".bin" / "anvil",
    ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise AnvilError(
        f"anvil not found under {modules} (run npm ci in {root} to install @foundry-rs/anvil)"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    # Linux only: anvil gets SIGTERM if the Python process dies without stopping it.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class AnvilNode:
    """A running anvil on 127.0.0.1. Use as a context manager, or call `stop()`.

    `block_time=None` means automine (a block per transaction). `extra_args` go to anvil as
    they are (e.g. `["--dump-state", path]`).
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        block_time: float | None = None,
        accounts: int = 10,
        silent: bool = True,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 30.0,
        binary: Path | None = None,
    ):
        self.binary = Path(binary) if binary else anvil_binary()
        self.block_time = block_time
        self.accounts = accounts
        self.silent = silent
        self.extra_args = list(extra_args)
        self.startup_timeout = startup_timeout
        self._fixed_port = port
        self.port: int = 0
        self.process: subprocess.Popen | None = None
        self._log = None
        # A free port can be taken between probing and anvil binding it: try a few.
        attempts = 1 if port else 3
        for attempt in range(attempts):
            try:
                self._start(port or free_port())
                break
            except AnvilError:
                if attempt == attempts - 1:
                    raise

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, port: int) -> list[str]:
        args = [
            str(self.binary),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--accounts",
            str(self.accounts),
        ]
        if self.block_time is not None:
            args += ["--block-time", f"{self.block_time:g}"]
        if self.silent:
            args.append("--silent")
        return args + self.extra_args

    def _start(self, port: int) -> None:
        self.port = port
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as anvil
        self.process = subprocess.Popen(
            self.command(port),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        client = RpcClient(self.url, timeout=2.0, max_retries=0)
        deadline = time.monotonic() + self.startup_timeout
        try:
            while True:
                if self.process.poll() is not None:
                    output = self._output_tail()
                    self._reap()
                    raise AnvilError(
                        f"anvil exited with code {self.process.returncode} on port {port}: "
                        f"{output or 'no output'}"
                    )
                try:
                    client.chain_id()
                    return
                except (RpcUnavailable, RpcError):
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise AnvilError(
                        f"anvil did not answer eth_chainId on port {port} within "
                        f"{self.startup_timeout:g}s"
                    )
                time.sleep(0.05)
        finally:
            client.close()

    def _output_tail(self, limit: int = 300) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        text = self._log.read().decode(errors="replace")
        return " ".join(text.split())[-limit:]

    def _reap(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        """Terminate anvil (kill it if it lingers) and always reap it."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        else:
            process.wait()
        self._reap()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> AnvilNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"AnvilNode({self.url}, {state})"


def wait_until_answering(url: str, timeout: float = 30.0) -> int:
    """Wait for a node at `url` to answer eth_chainId; returns the chain id."""
    deadline = time.monotonic() + timeout
    with RpcClient(url, max_retries=0, timeout=2.0) as client:
        while True:
            try:
                return client.chain_id()
            except RpcUnavailable:
                if time.monotonic() > deadline:
                    raise AnvilError(f"no node answered at {url} within {timeout:g}s") from None
                time.sleep(0.2)


if __name__ == "__main__":  # python -m devtools.anvil wait URL  (used by the Makefile)
    if len(sys.argv) != 3 or sys.argv[1] != "wait":
        sys.exit("usage: python -m devtools.anvil wait URL")
    try:
        print(f"chain {wait_until_answering(sys.argv[2])} answering at {sys.argv[2]}")
    except AnvilError as exc:
        sys.exit(str(exc))
