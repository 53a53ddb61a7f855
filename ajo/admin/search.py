"""The admin's one search box: an address, tx hash or number goes to an index, never a LIKE
scan over a big table."""

import ipaddress
import re

from django.db.models import Q

from ajo.addresses import InvalidAddress, normalize_address

_TX = re.compile(r"^0x[0-9a-fA-F]{64}$")
_LOOSE_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def search_kind(term: str) -> tuple[str, object]:
    """('address' | 'tx' | 'number' | 'ip' | 'text', value) for a search box term."""
    term = term.strip()
    if _TX.match(term):
        return "tx", term.lower()
    if _LOOSE_ADDRESS.match(term):
        try:
            return "address", normalize_address(term)
        except InvalidAddress:
            # A mistyped checksum cannot match a stored row; search the lowercase form anyway.
            return "address", term.lower()
    if term.isdigit() and len(term) < 19:
        return "number", int(term)
    try:
        return "ip", str(ipaddress.ip_address(term))
    except ValueError:
        pass
    return "text", term


class ExactSearchMixin:
    """One search box, but every term kind goes to an index: no LIKE scan over big tables.

    `search_map` says which lookups each kind of term tries, e.g.
    {"address": ["member__address"], "tx": ["tx_hash"], "number": ["group_id"]}.
    """

    search_map: dict[str, list[str]] = {}
    search_help_text = "Address (any case), tx hash, or group id"

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        kind, value = search_kind(search_term)
        lookups = self.search_map.get(kind, [])
        if kind in ("text", "ip") and not lookups:
            lookups = self.search_map.get("text_fallback", [])
        if not lookups:
            return queryset.none(), False
        condition = Q()
        for lookup in lookups:
            condition |= Q(**{lookup: value})
        return queryset.filter(condition), False
