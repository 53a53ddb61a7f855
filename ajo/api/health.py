"""Liveness and readiness probes (plain Django views: no DRF, no schema, no session)."""

from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from ajo.chainreads import chain_head_cached
from ajo.models import SyncState


@require_GET
def healthz(request):
    """The process answers. Touches neither the database nor the chain."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request):
    """Ready when the database answers (200, else 503).

    The chain is reported, never asked: a probe that waited on a hung node would take the
    server out of rotation for the node's fault, while the API serves indexed data without it.
    The head is the one the API last read (within a few seconds; null when none is cached),
    and how far the index trails the clock comes from the database alone.
    """
    try:
        state = SyncState.objects.filter(pk=1).values("last_block", "last_block_time").first()
        database = {"ok": True}
    except Exception as exc:
        state = None
        database = {"ok": False, "error": str(exc).strip().splitlines()[0][:200]}
    indexed_block = state["last_block"] if state else None
    indexed_time = state["last_block_time"] if state else None
    head = chain_head_cached()
    chain = {
        # null: no head read in the last few seconds, which says nothing about the node
        "ok": None if head is None else head["number"] is not None,
        "head_block": head["number"] if head else None,
        "indexed_block": indexed_block,
        "lag_blocks": (
            max(head["number"] - indexed_block, 0)
            if head and head["number"] is not None and indexed_block is not None
            else None
        ),
        "indexed_block_age_seconds": (
            max(int((timezone.now() - indexed_time).total_seconds()), 0) if indexed_time else None
        ),
    }
    if head and head["error"]:
        chain["error"] = head["error"]
    ready = database["ok"]
    return JsonResponse(
        {"status": "ready" if ready else "unavailable", "database": database, "chain": chain},
        status=200 if ready else 503,
    )
