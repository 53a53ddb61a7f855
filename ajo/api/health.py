"""Liveness and readiness probes (plain Django views: no DRF, no schema, no session)."""

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from ajo.selectors import chain_head


@require_GET
def healthz(request):
    """The process answers. Touches neither the database nor the chain."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request):
    """Ready when the database answers (200, else 503). The chain is reported, not required:
    the API serves indexed data while the node is away."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        database = {"ok": True}
    except Exception as exc:
        database = {"ok": False, "error": str(exc).strip().splitlines()[0][:200]}
    head = chain_head()
    chain = {"ok": head["number"] is not None, "head_block": head["number"]}
    if head["error"]:
        chain["error"] = head["error"]
    ready = database["ok"]
    return JsonResponse(
        {"status": "ready" if ready else "unavailable", "database": database, "chain": chain},
        status=200 if ready else 503,
    )
