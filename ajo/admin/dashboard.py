"""The admin home page: totals, sync state, cache use, latest activity and a chart.

Every number comes from a maintained total, an index, or the planner's estimate: the page
stays as fast on a million contributions as on ten.
"""

import json
from datetime import timedelta

from django.db.models import Count
from django.utils import timezone

from ajo.admin.display import address_html, admin_link, amount_html, changelist_url, tx_html
from ajo.admin.paging import estimate_count
from ajo.chainreads import cache_stats as chain_read_stats
from ajo.metrics import api_cache_stats
from ajo.models import SyncState
from contributions.selectors import contribution_list, payout_list
from groups.models import Group, Membership, Token, User

LATEST_ROWS = 8
CHART_ROWS = 20_000  # the chart reads at most this many rows, newest first, off the time index
CHART_DAYS = 14


def cache_stats() -> dict | None:
    """Hits and misses of the chain-read cache."""
    try:
        stats = dict(chain_read_stats())
    except Exception:  # the cache backend may be down; the dashboard still renders
        return None
    hits, misses = int(stats.get("hits", 0) or 0), int(stats.get("misses", 0) or 0)
    total = hits + misses
    stats.update(hits=hits, misses=misses, hit_rate=f"{hits / total:.0%}" if total else "-")
    return stats


def api_cache_summary() -> list[dict]:
    """The API's response cache on this host's web workers (ajo_api_cache_total), one row per
    source: answers of the index, and apart those showing groups read from view functions."""
    try:
        stats = api_cache_stats()
    except Exception:  # unreadable metric files must not take the dashboard down
        return []
    rows = []
    for source, label in (("index", "API answers"), ("chain_view", "of groups read from chain")):
        counts = stats.get(source, {})
        hit, miss = counts.get("hit", 0), counts.get("miss", 0)
        not_modified, uncached = counts.get("not_modified", 0), counts.get("uncached", 0)
        total = hit + miss + not_modified + uncached
        if source != "index" and not total:
            continue
        served = f"{(hit + not_modified) / total:.0%}" if total else "-"
        rows.append(
            {
                "label": label,
                "served": served,
                "hits": hit,
                "misses": miss,
                "not_modified": not_modified,
                "uncached": uncached,
            }
        )
    return rows


def sync_summary() -> dict | None:
    state = SyncState.objects.first()
    if state is None:
        return None
    now = timezone.now()
    lag_seconds = None
    if state.last_block_time and state.lag_blocks:
        lag_seconds = int((now - state.last_block_time).total_seconds())
    elif state.lag_blocks == 0:
        lag_seconds = 0
    return {
        "state": state,
        "contract": address_html(state.contract_address),
        "lag_blocks": state.lag_blocks,
        "lag_seconds": lag_seconds,
        "head_age": now - state.head_seen_at if state.head_seen_at else None,
        "link": changelist_url(SyncState),
    }


def contributions_chart() -> dict:
    """Contributions per day over the last CHART_DAYS days that have any, from a bounded read."""
    # Newest first by block: block time grows with the block number, and the (block number,
    # log index) key serves this order without sorting the table.
    times = list(contribution_list().values_list("block_time", flat=True)[:CHART_ROWS])
    if not times:
        return {"data": None, "truncated": False}
    last_day = times[0].date()
    first_day = last_day - timedelta(days=CHART_DAYS - 1)
    days = [first_day + timedelta(days=n) for n in range(CHART_DAYS)]
    per_day = dict.fromkeys(days, 0)
    for moment in times:
        day = moment.date()
        if day < first_day:
            break
        per_day[day] += 1
    truncated = len(times) == CHART_ROWS and times[-1].date() >= first_day
    data = {
        "labels": [day.strftime("%b %d") for day in days],
        "datasets": [
            {
                "label": "contributions",
                "data": [per_day[day] for day in days],
                "backgroundColor": "var(--color-primary-600)",
            }
        ],
    }
    return {
        "data": json.dumps(data),
        "truncated": truncated,
        "max": max(per_day.values()),
        "bars": [(day, per_day[day]) for day in days],
    }


def latest_activity() -> dict:
    contributions = contribution_list()[:LATEST_ROWS]
    payouts = payout_list()[:LATEST_ROWS]

    def rows(events, who):
        return [
            [
                admin_link(e.group, f"#{e.group_id}"),
                admin_link(getattr(e, who)),
                e.round,
                amount_html(e.amount, e.group.token),
                e.block_number,
                tx_html(e.tx_hash),
            ]
            for e in events
        ]

    headers = ["group", "who", "round", "amount", "block", "tx"]
    return {
        "contributions": {"headers": headers, "rows": rows(contributions, "member")},
        "payouts": {"headers": headers, "rows": rows(payouts, "recipient")},
    }


def dashboard_callback(request, context: dict) -> dict:
    if not request.user.has_perm("groups.view_group"):
        return context
    by_status = dict(Group.objects.order_by().values_list("status").annotate(n=Count("id")))
    tokens = list(Token.objects.order_by("symbol", "address"))
    context.update(
        {
            "ajo_dashboard": True,
            "groups_by_status": [
                (label, by_status.get(value, 0), changelist_url(Group, status__exact=value))
                for value, label in Group.Status.choices
            ],
            "groups_total": sum(by_status.values()),
            "users_total": estimate_count(User.objects.all(), count_without_statistics=True),
            "memberships_total": estimate_count(
                Membership.objects.all(), count_without_statistics=True
            ),
            "token_table": {
                "headers": ["token", "groups", "contributions", "volume in", "paid out"],
                "rows": [
                    [
                        admin_link(token),
                        f"{token.group_count:,}",
                        f"{token.contribution_count:,}",
                        amount_html(token.total_contributed, token),
                        amount_html(token.total_paid_out, token),
                    ]
                    for token in tokens
                ],
            },
            "contributions_total": sum(token.contribution_count for token in tokens),
            "sync": sync_summary(),
            "cache": cache_stats(),
            "api_cache": api_cache_summary(),
            "chart": contributions_chart(),
            **latest_activity(),
        }
    )
    return context
