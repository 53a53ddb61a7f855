"""Admin server time on the 1M-contribution dataset, beside Prisma Studio's figures.

    python bench/admin.py [--database-url URL] [--runs N] [--browser [--port P]]

Builds (or reuses) the `bench/dataset.py` PostgreSQL dataset, logs in a staff superuser with
the Django test Client and times each page in-process (URL resolution, queries, templates:
the server's share of a request). Prints median milliseconds, the time spent in SQL and the
query count per page, then exports the whole contributions table as CSV (time, size, rows).
Run it on an otherwise idle machine: page rendering is CPU-bound. `--browser` times the same
list in headless Chromium instead, as a person sees it (bench/browser.py).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dataset import DEFAULT_DATABASE_URL, ensure_dataset  # noqa: E402

# Prisma Studio on the same machine and data (ms): cold open, next page, last page, filter.
PRISMA = {
    "contributions: first page": "1,524 (Group 10k: 1,130)",
    "contributions: page 2": "671 (295)",
    "contributions: last page": "1,226 (233)",
    "contributions: filter group": "270-322 (211-223)",
    "contributions: search address": "failed after 6.1 s",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--browser",
        action="store_true",
        help="time the pages in headless Chromium against gunicorn (bench/browser.py)",
    )
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port (default: a free one)")
    args = parser.parse_args(argv)

    built = ensure_dataset(database_url=args.database_url)
    print(f"dataset: {args.database_url} ({'built' if built else 'reused'})", file=sys.stderr)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ajo.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    # After django.setup(): models cannot be imported before the app registry is loaded,
    # and the settings are only known once the dataset's DATABASE_URL is set above.
    from contributions.models import Contribution, Payout
    from groups.models import Group, Membership, User

    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.ALLOWED_HOSTS = ["testserver"]
    admin_user, _ = User.objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(admin_user)

    busy_group = Group.objects.order_by("-contribution_count").first()
    if args.browser:
        from bench import browser

        admin_user.set_password(browser.PASSWORD)
        admin_user.save()
        times, sizes = browser.run(
            database_url=args.database_url,
            runs=args.runs,
            port=args.port or browser.free_port(),
            group_id=busy_group.id,
            tx_hash=Contribution.objects.order_by("id").values_list("tx_hash", flat=True)[500],
            username=admin_user.username,
        )
        browser.report(times, sizes)
        return 0
    busy_user = User.objects.filter(address__isnull=False).order_by("-contribution_count").first()
    contribution = Contribution.objects.order_by("-id").first()
    payout = Payout.objects.order_by("-id").first()
    membership = Membership.objects.filter(group=busy_group).first()
    mixed_case = busy_user.checksum_address

    def last_page(url: str) -> int:
        # Not response.context: the test environment's template instrumentation would slow
        # every page it measures, so read the highest page link instead.
        html = client.get(url).content.decode()
        return max([1, *(int(n) for n in re.findall(r"(?:\?|&amp;)p=(\d+)", html))])

    def pages(label: str, url: str) -> list[tuple[str, str]]:
        sep = "&" if "?" in url else "?"
        last = last_page(url)
        return [
            (f"{label}: first page", url),
            (f"{label}: page 2", f"{url}{sep}p=2"),
            (f"{label}: middle page ({max(last // 2, 1):,})", f"{url}{sep}p={max(last // 2, 1)}"),
            (f"{label}: last page ({last:,})", f"{url}{sep}p={last}"),
        ]

    a = "/" + settings.ADMIN_URL
    plan: list[tuple[str, str]] = [("dashboard", a)]
    plan += pages("contributions", f"{a}contributions/contribution/")
    plan += pages("contributions late", f"{a}contributions/contribution/?is_late__exact=1")
    plan += [
        (
            "contributions: filter group",
            f"{a}contributions/contribution/?group__id__exact={busy_group.id}",
        ),
        (
            "contributions: filter member",
            f"{a}contributions/contribution/?member__id__exact={busy_user.id}",
        ),
        ("contributions: search address", f"{a}contributions/contribution/?q={mixed_case}"),
        ("contributions: search tx", f"{a}contributions/contribution/?q={contribution.tx_hash}"),
        (
            "contributions: block range",
            f"{a}contributions/contribution/?block_number_from={contribution.block_number - 5000}"
            f"&block_number_to={contribution.block_number}",
        ),
        (
            "contributions: amount range",
            f"{a}contributions/contribution/?amount_from=1&amount_to={10**30}",
        ),
        ("contribution detail", f"{a}contributions/contribution/{contribution.id}/change/"),
    ]
    plan += pages("payouts", f"{a}contributions/payout/")
    plan += [("payout detail", f"{a}contributions/payout/{payout.id}/change/")]
    plan += pages("groups", f"{a}groups/group/")
    plan += pages("groups active", f"{a}groups/group/?status__exact=active")
    plan += [
        ("groups: search name", f"{a}groups/group/?q=Lagos"),
        ("group detail (busiest)", f"{a}groups/group/{busy_group.id}/change/"),
    ]
    plan += pages("memberships", f"{a}groups/membership/")
    plan += [("membership detail", f"{a}groups/membership/{membership.id}/change/")]
    plan += pages("users", f"{a}groups/user/")
    plan += [
        ("users: search address", f"{a}groups/user/?q={mixed_case}"),
        ("user detail (busiest)", f"{a}groups/user/{busy_user.id}/change/"),
        ("tokens", f"{a}groups/token/"),
        ("sync state", f"{a}ajo/syncstate/"),
        ("blocks", f"{a}ajo/blockrecord/"),
        (
            "autocomplete group",
            f"{a}autocomplete/?app_label=contributions&model_name="
            f"contribution&field_name=group&term={busy_group.id}",
        ),
    ]

    print(
        f"{'page':58} {'median ms':>9} {'max ms':>7} {'SQL ms':>7} {'queries':>7}  Prisma Studio ms"
    )
    worst = 0.0
    for label, url in plan:
        client.get(url)  # warm the connection and caches once, as a browsing session would
        timings, sql_times = [], []
        for _ in range(args.runs):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(url)
                timings.append((time.perf_counter() - started) * 1000)
            sql_times.append(sum(float(q["time"]) for q in queries.captured_queries) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{label}: HTTP {response.status_code} for {url}")
        median = statistics.median(timings)
        worst = max(worst, median)
        print(
            f"{label:58} {median:9.0f} {max(timings):7.0f} {statistics.median(sql_times):7.0f} "
            f"{len(queries):7d}  "
            f"{PRISMA.get(label, '')}"
        )
    print(f"slowest page (median): {worst:.0f} ms")
    export_csv(client, f"{a}contributions/contribution/export.csv")
    return 0


def export_csv(client, url: str) -> None:
    """The whole contributions table as CSV, read to the end as a browser would download it:
    time, size, rows, and the longest wait between two chunks (what gunicorn's timeout would
    see without the export's heartbeat)."""
    started = time.perf_counter()
    response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"CSV export: HTTP {response.status_code} for {url}")
    size = lines = 0
    previous, longest_gap = started, 0.0
    for chunk in response.streaming_content:
        now = time.perf_counter()
        longest_gap = max(longest_gap, now - previous)
        previous = now
        size += len(chunk)
        lines += chunk.count(b"\n")
    response.close()
    seconds = time.perf_counter() - started
    print(
        f"CSV export, all contributions: {lines - 1:,} rows, {size / 1e6:,.1f} MB in "
        f"{seconds:.1f} s ({(lines - 1) / seconds:,.0f} rows/s); longest wait for a chunk "
        f"{longest_gap:.2f} s"
    )


if __name__ == "__main__":
    sys.exit(main())
