"""Pagination: page numbers for groups and members, keyset cursors for event lists.

Page sizes are capped; a page size that is not a positive integer, a page that is not a
number and a cursor that was not issued by the API are 400s that say so (DRF would quietly
use the default size, or answer 404 for a bad cursor).
"""

import binascii
import re
from base64 import urlsafe_b64decode, urlsafe_b64encode

from django.core import signing
from django.db.models import F
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from rest_framework import exceptions
from rest_framework.pagination import BasePagination, PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


def _page_size(request, param: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(param)
    if raw is None:
        return default
    # Above the maximum is an error too, not quietly the maximum: the schema says 1..100,
    # and a client asking for 500 rows should learn it gets at most 100.
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise exceptions.ValidationError(
            {param: [f"must be a whole number from 1 to {maximum} (got {raw[:20]!r})"]}
        )
    return int(raw)


def page_size_parameter(param: str) -> dict:
    return {
        "name": param,
        "required": False,
        "in": "query",
        "description": f"Rows per page (default {DEFAULT_PAGE_SIZE}, at most {MAX_PAGE_SIZE}).",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
    }


MAX_PAGE_DIGITS = 9


class PagePagination(PageNumberPagination):
    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    last_page_strings = ()  # DRF's `?page=last`: a number only, as the schema says

    def get_page_size(self, request):
        return _page_size(request, self.page_size_query_param, self.page_size, self.max_page_size)

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param, 1)
        text = str(raw)
        if not text.isascii() or not text.isdigit() or int(text) < 1 or len(text) > MAX_PAGE_DIGITS:
            raise exceptions.ValidationError(
                {self.page_query_param: [f"must be a page number from 1 (got {text[:20]!r})"]}
            )
        return int(text)

    def get_paginated_response_schema(self, schema):
        response = super().get_paginated_response_schema(schema)
        response["required"] = ["count", "next", "previous", "results"]
        return response

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "Page number, from 1 (past the last page: 404).",
                "schema": {"type": "integer", "minimum": 1, "maximum": 10**MAX_PAGE_DIGITS - 1},
            },
            page_size_parameter(self.page_size_query_param),
        ]


# ?ordering= values an event list accepts (True: newest first). The key of an event row,
# (block_number, log_index), is unique (contribution_log_uniq, payout_log_uniq): it orders
# the rows completely, so a position in it needs no tiebreak and no offset.
EVENT_ORDERINGS = {"-block_number": True, "block_number": False}
EVENT_KEY = ("block_number", "log_index")
_MAX_BLOCK = 2**63 - 1
_MAX_LOG_INDEX = 2**32 - 1
# Longest cursor this API issues is about 110 characters; anything far longer is not one.
_MAX_CURSOR_LENGTH = 200
_CURSOR_PATTERN = re.compile(r"[A-Za-z0-9_-]*")
_CURSOR_SIGNER = signing.Signer(salt="ajo.api.pagination.EventCursorPagination")


class EventCursorPagination(BasePagination):
    """Keyset pages over (block_number, log_index), newest first; `?ordering=block_number`
    for oldest first.

    A cursor is the key of the row a page ended (or, for `previous`, started) at: the next
    page is the rows strictly after it, found through the unique index whatever the depth.
    DRF's CursorPagination keyed on the block number alone plus an offset capped at 1,000,
    so the pages inside a block of more than 1,000 events answered 400. The cursor is signed
    (HMAC with SECRET_KEY) and base64url-encoded: opaque to clients, and a cursor the API did
    not issue (garbage, edited, or issued for the other ordering) is a 400 that says so. A
    cursor outlives a SECRET_KEY rotation only through SECRET_KEY_FALLBACKS.
    """

    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    cursor_query_param = "cursor"
    ordering_param = "ordering"

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.base_url = request.build_absolute_uri()
        self.page_size = _page_size(
            request, self.page_size_query_param, self.page_size, self.max_page_size
        )
        self.descending = self._descending(request)
        backwards, position = self._decode_cursor(request)
        # Rows are read in the direction of travel: `previous` reads backwards, then flips.
        scan_descending = self.descending != backwards
        order = [f"-{name}" if scan_descending else name for name in EVENT_KEY]
        rows = queryset.order_by(*order)
        if position is not None:
            # Django's row-value lookups (5.2, the ones composite primary keys use):
            # `(block_number, log_index) < (%s, %s)` on both databases, which PostgreSQL
            # reads as one range of the unique index.
            after = TupleLessThan if scan_descending else TupleGreaterThan
            rows = rows.filter(after(Tuple(*(F(name) for name in EVENT_KEY)), position))
        page = list(rows[: self.page_size + 1])
        more = len(page) > self.page_size
        del page[self.page_size :]
        if backwards:
            page.reverse()
            self.has_next, self.has_previous = True, more
        else:
            self.has_next, self.has_previous = more, position is not None
        self.page = page
        return page

    def get_paginated_response(self, data):
        return Response(
            {"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data}
        )

    def get_next_link(self) -> str | None:
        if not self.has_next:
            return None
        if not self.page:
            # A backwards page that came out empty (rows reverted since): the rows that
            # follow it start at the first page.
            return remove_query_param(self.base_url, self.cursor_query_param)
        return self._link(backwards=False, row=self.page[-1])

    def get_previous_link(self) -> str | None:
        if not self.has_previous or not self.page:
            return None
        return self._link(backwards=True, row=self.page[0])

    # -- cursors -------------------------------------------------------------------------------

    def _link(self, *, backwards: bool, row) -> str:
        key = ":".join(str(getattr(row, name)) for name in EVENT_KEY)
        payload = f"1:{'p' if backwards else 'n'}:{'d' if self.descending else 'a'}:{key}"
        signed = _CURSOR_SIGNER.sign(payload).encode("ascii")
        token = urlsafe_b64encode(signed).decode("ascii").rstrip("=")
        return replace_query_param(self.base_url, self.cursor_query_param, token)

    def _descending(self, request) -> bool:
        raw = request.query_params.get(self.ordering_param)
        if raw is None:
            return True
        if raw not in EVENT_ORDERINGS:
            raise exceptions.ValidationError(
                {self.ordering_param: [f"must be one of {', '.join(sorted(EVENT_ORDERINGS))}"]}
            )
        return EVENT_ORDERINGS[raw]

    def _decode_cursor(self, request) -> tuple[bool, tuple[int, int] | None]:
        """(backwards, position) from ?cursor=; (False, None) without one."""
        token = request.query_params.get(self.cursor_query_param)
        if token is None or token == "":
            return False, None

        def invalid(reason: str = "is not a cursor issued by this API"):
            return exceptions.ValidationError({self.cursor_query_param: [reason]})

        if len(token) > _MAX_CURSOR_LENGTH or not _CURSOR_PATTERN.fullmatch(token):
            raise invalid("is not a cursor: base64url characters, at most 200")
        try:
            signed = urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
            payload = _CURSOR_SIGNER.unsign(signed)
        except (binascii.Error, ValueError, signing.BadSignature):  # UnicodeError is a ValueError
            # Well formed, but no page the API issued: "no such page" (a 404), as for a page
            # number past the last; the schema can say how a cursor looks, not which exist.
            raise exceptions.NotFound(
                f"no page at this {self.cursor_query_param}: it was not issued by this API "
                f"(follow the `next` and `previous` links)"
            ) from None
        # Signed by this API, so well formed; checked all the same, a bug must not reach SQL.
        parts = payload.split(":")
        if (
            len(parts) != 5
            or parts[0] != "1"
            or parts[1] not in ("n", "p")
            or parts[2] not in ("d", "a")
            or not all(part.isascii() and part.isdigit() for part in parts[3:])
        ):
            raise invalid()
        block, log_index = int(parts[3]), int(parts[4])
        if block > _MAX_BLOCK or log_index > _MAX_LOG_INDEX:
            raise invalid()
        if (parts[2] == "d") != self.descending:
            issued = "-block_number" if parts[2] == "d" else "block_number"
            raise invalid(
                f"was issued for {self.ordering_param}={issued}: follow the links of one ordering"
            )
        return parts[1] == "p", (block, log_index)

    # -- OpenAPI -------------------------------------------------------------------------------

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {**link, "description": "The following page; null on the last one."},
                "previous": {
                    **link,
                    "description": "The page before; null on the first one.",
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": (
                    "Opaque position in the list, taken from a `next` or `previous` link "
                    "(signed by the API: one it did not issue is a 404, one issued for the "
                    "other ordering a 400). Omit it for the first page."
                ),
                "schema": {
                    "type": "string",
                    "maxLength": _MAX_CURSOR_LENGTH,
                    "pattern": f"^{_CURSOR_PATTERN.pattern}$",
                },
            },
            page_size_parameter(self.page_size_query_param),
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": "Order by block: newest first (default) or oldest first.",
                "schema": {"type": "string", "enum": sorted(EVENT_ORDERINGS)},
            },
        ]
