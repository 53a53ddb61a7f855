"""Pagination: page numbers for groups and members, cursors for event lists.

Page sizes are capped; a page size that is not a positive integer, a page that is not a
number and a cursor that was not issued by the API are 400s that say so (DRF would quietly
use the default size, or answer 404 for a bad cursor).
"""

from base64 import b64decode
from urllib import parse

from rest_framework import exceptions
from rest_framework.pagination import Cursor, CursorPagination, PageNumberPagination

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


def _page_size(request, param: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(param)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        raise exceptions.ValidationError(
            {param: [f"must be a whole number from 1 to {maximum} (got {raw[:20]!r})"]}
        )
    return min(int(raw), maximum)


class PagePagination(PageNumberPagination):
    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request):
        return _page_size(request, self.page_size_query_param, self.page_size, self.max_page_size)

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param, 1)
        if raw in self.last_page_strings:
            return raw
        text = str(raw)
        if not text.isascii() or not text.isdigit() or int(text) < 1 or len(text) > 9:
            raise exceptions.ValidationError(
                {self.page_query_param: [f"must be a page number from 1 (got {text[:20]!r})"]}
            )
        return int(text)

    def get_paginated_response_schema(self, schema):
        response = super().get_paginated_response_schema(schema)
        response["required"] = ["count", "next", "previous", "results"]
        return response


# ?ordering= values an event list accepts; log_index always breaks ties within a block.
EVENT_ORDERINGS = {
    "-block_number": ("-block_number", "-log_index"),
    "block_number": ("block_number", "log_index"),
}


class EventCursorPagination(CursorPagination):
    """Newest first by (block_number, log_index); `?ordering=block_number` for oldest first."""

    ordering = EVENT_ORDERINGS["-block_number"]
    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    ordering_param = "ordering"

    def get_page_size(self, request):
        return _page_size(request, self.page_size_query_param, self.page_size, self.max_page_size)

    def get_ordering(self, request, queryset, view):
        raw = request.query_params.get(self.ordering_param)
        if raw is None or raw == "":
            return self.ordering
        if raw not in EVENT_ORDERINGS:
            raise exceptions.ValidationError(
                {self.ordering_param: [f"must be one of {', '.join(sorted(EVENT_ORDERINGS))}"]}
            )
        return EVENT_ORDERINGS[raw]

    def decode_cursor(self, request):
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        invalid = exceptions.ValidationError(
            {self.cursor_query_param: ["is not a cursor issued by this API"]}
        )
        try:
            querystring = b64decode(encoded.encode("ascii")).decode("ascii")
            tokens = parse.parse_qs(querystring, keep_blank_values=True)
            offset = int(tokens.get("o", ["0"])[0])
            reverse = bool(int(tokens.get("r", ["0"])[0]))
            position = tokens.get("p", [None])[0]
        except (TypeError, ValueError, UnicodeError):
            raise invalid from None
        # The position is a block number: anything else would reach the database as garbage.
        if position is not None and not (position.isascii() and position.isdigit()):
            raise invalid
        if position is not None and int(position) > 2**63 - 1:
            raise invalid
        if offset < 0 or offset > self.offset_cutoff:
            raise invalid
        return Cursor(offset=offset, reverse=reverse, position=position)

    def get_schema_operation_parameters(self, view):
        return [
            *super().get_schema_operation_parameters(view),
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": "Order by block: newest first (default) or oldest first.",
                "schema": {"type": "string", "enum": sorted(EVENT_ORDERINGS)},
            },
        ]
