"""The admin in headless Chromium on the 1M-contribution dataset, the way Prisma Studio was
measured (../shared/PEERS.md): a fresh browser context per repetition (no cache, logged in by
cookie), wall time from the action until the first result row is visible.

    python bench/admin.py --browser [--database-url URL] [--runs N] [--port P]

Starts gunicorn with the production settings (DEBUG off, WhiteNoise serving the hashed,
compressed files of collectstatic) on a free loopback port, and drives Debian's Chromium
through Playwright. Per repetition: open the contributions list (cold), next page, last page,
filter by a group (the filter builder), search a tx hash. Page changes, filters and searches
are partial updates (htmx): only the results are fetched and swapped.
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "bench-browser-only"
# Prisma Studio 7.10.1 on the same machine and data (ms), and the targets: a third of it.
PRISMA = {
    "first page (cold)": (1524, 500),
    "next page": (671, 220),
    "last page": (1226, 400),
    "filter by group": (322, 105),
    "search a tx hash": (270, 90),
}
FIRST_ROW = "#result_list tbody tr"
NEW_RESULTS = (
    "document.querySelector('#ajo-results') !== window.__ajoOld"
    " && document.querySelector('#result_list tbody tr') !== null"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def server(database_url: str, port: int):
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only"),
        "DEBUG": "false",
        "AJO_READ_DOTENV": "false",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }
    python = sys.executable
    subprocess.run(
        [python, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    gunicorn = Path(python).with_name("gunicorn")
    process = subprocess.Popen(
        [str(gunicorn), "-c", "gunicorn.conf.py", "ajo.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit("gunicorn did not start") from None
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


# The server's share of the last request: from sending it to the first byte of the answer.
LAST_SERVER_MS = """() => {
  const fetches = performance.getEntriesByType('resource')
    .filter(e => e.initiatorType === 'xmlhttprequest');
  const last = fetches[fetches.length - 1];
  return last ? last.responseStart - last.requestStart : null;
}"""
PAGE_SERVER_MS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  return nav.responseStart - nav.requestStart;
}"""


# In the page: from the click or key press to the first frame that shows the new rows,
# without the test driver's own round trips (Playwright's actionability checks and polling).
WATCH = """() => {
  window.__ajoOld = document.querySelector('#ajo-results');
  window.__ajoT0 = null; window.__ajoT1 = null;
  const start = () => { if (window.__ajoT0 === null) window.__ajoT0 = performance.now(); };
  document.addEventListener('click', start, {capture: true, once: true});
  document.addEventListener('keydown', start, {capture: true, once: true});
  const observer = new MutationObserver(() => {
    const results = document.querySelector('#ajo-results');
    if (results !== window.__ajoOld && document.querySelector('#result_list tbody tr')) {
      observer.disconnect();
      requestAnimationFrame(() => { window.__ajoT1 = performance.now(); });
    }
  });
  observer.observe(document.body, {childList: true, subtree: true});
}"""
IN_PAGE_MS = "() => window.__ajoT1 - window.__ajoT0"


def timed(page, method: str, *args) -> tuple[float, float, float]:
    """Milliseconds from `page.<method>(*args)` until new result rows are on screen (as the
    driver sees it, and inside the page from the event to the frame), and the server's share
    (time to the first byte of its answer)."""
    page.evaluate(WATCH)
    started = time.perf_counter()
    getattr(page, method)(*args)
    page.wait_for_function(NEW_RESULTS + " && window.__ajoT1 !== null", timeout=30_000)
    elapsed = (time.perf_counter() - started) * 1000
    return elapsed, page.evaluate(LAST_SERVER_MS) or 0.0, page.evaluate(IN_PAGE_MS)


def run(*, database_url: str, runs: int, port: int, group_id: int, tx_hash: str, username: str):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise SystemExit("Debian's chromium is needed (apt-get install chromium)")
    times: dict[str, list[tuple[float, float, float]]] = {label: [] for label in PRISMA}
    sizes: dict[str, int] = {}
    with server(database_url, port) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        login = browser.new_context()
        page = login.new_page()
        page.goto(f"{base}/admin/login/?next=/admin/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/admin/")
        page.goto(f"{base}/admin/contributions/contribution/")  # sets the time zone cookie
        state = login.storage_state()
        login.close()
        url = f"{base}/admin/contributions/contribution/"
        for repetition in range(runs + 1):  # the first one warms the server and is not counted
            context = browser.new_context(
                storage_state=state, viewport={"width": 1440, "height": 1000}
            )
            page = context.new_page()
            transfers: list[tuple[str, bool, int]] = []  # (url, partial, bytes on the wire)
            if repetition == 1:
                page.on(
                    "requestfinished",
                    lambda r, log=transfers: log.append(
                        (r.url, bool(r.headers.get("hx-request")), r.sizes()["responseBodySize"])
                    ),
                )
            sample: dict[str, tuple[float, float, float]] = {}
            started = time.perf_counter()
            page.goto(url, wait_until="commit")
            page.wait_for_selector(FIRST_ROW, state="visible")
            elapsed = (time.perf_counter() - started) * 1000
            # the first page is a navigation: its in-page time is the driver's
            sample["first page (cold)"] = (elapsed, page.evaluate(PAGE_SERVER_MS), elapsed)
            page.wait_for_load_state("load")
            sample["next page"] = timed(page, "click", "#ajo-next")
            sample["last page"] = timed(page, "click", "#ajo-pagination a.end")
            page.goto(url)
            page.click("#ajo-builder-panel summary")
            row = page.locator(".ajo-cond").first
            row.locator("[data-role=column]").select_option("group")
            row.locator("[data-role=op]").select_option("eq")
            row.locator("[data-role=v1]").fill(str(group_id))
            sample["filter by group"] = timed(page, "click", "#ajo-apply")
            page.goto(url)
            page.fill("#searchbar", tx_hash)
            sample["search a tx hash"] = timed(page, "press", "#searchbar", "Enter")
            for request_url, partial, size in transfers:
                if "/admin/contributions/contribution/" in request_url:
                    kind = "partial" if partial else "page"
                    sizes[kind] = max(sizes.get(kind, 0), size)
                elif "/static/" in request_url:
                    sizes["assets"] = sizes.get("assets", 0) + size
            context.close()
            if repetition:
                for label, value in sample.items():
                    times[label].append(value)
        browser.close()
    return times, sizes


def report(times: dict[str, list[tuple[float, float, float]]], sizes: dict[str, int]) -> None:
    load = os.getloadavg()
    print(
        f"\nbrowser (headless Chromium, a fresh context per repetition, "
        f"{len(next(iter(times.values())))} runs; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores)"
    )
    print(
        f"{'action':24} {'median ms':>9} {'range ms':>13} {'in page':>8} {'server ms':>9} "
        f"{'target':>7} {'Prisma Studio':>14}"
    )
    for label, samples in times.items():
        prisma, target = PRISMA[label]
        values = [total for total, _, _ in samples]
        median = statistics.median(values)
        server_ms = statistics.median(server for _, server, _ in samples)
        in_page = statistics.median(inside for _, _, inside in samples)
        flag = "" if median <= target else "  (over target)"
        print(
            f"{label:24} {median:9.0f} {min(values):6.0f}-{max(values):<6.0f} {in_page:8.0f} "
            f"{server_ms:9.0f} {target:7d} {prisma:14,d}{flag}"
        )
    if sizes:
        print(
            f"bytes: full page {sizes.get('page', 0):,}, "
            f"partial update {sizes.get('partial', 0):,}, "
            f"static files of a cold load {sizes.get('assets', 0):,} (compressed, hashed names, "
            "cached for a year)"
        )
