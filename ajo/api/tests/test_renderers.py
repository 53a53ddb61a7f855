"""The orjson renderer writes the bytes DRF's JSON renderer writes."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

import pytest
from django.utils.translation import gettext_lazy
from rest_framework import renderers
from rest_framework.exceptions import ErrorDetail
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from ajo.api.renderers import JSONRenderer


@dataclass
class Point:
    x: int


DATA = [
    None,
    {"count": 3, "next": None, "results": ReturnList([{"a": True, "b": False}], serializer=None)},
    ReturnDict({"name": 'Ìyá Lagos \u2028 \u2029 "quoted" \\ </script>', "n": -1}, serializer=None),
    {"error": {"code": "invalid", "details": {"page": [ErrorDetail("bad", code="invalid")]}}},
    {"big": 2**70, "small": 2**63 - 1},  # orjson refuses ints above 64 bits
    {1: "non-string key"},
    {"when": datetime(2026, 3, 1, 12, 30, 0, 123456, tzinfo=UTC), "day": date(2026, 3, 1)},
    {"amount": Decimal("12.50"), "id": UUID(int=7), "lazy": gettext_lazy("Not found.")},
    {"tuple": (1, 2), "set": {3}, "empty": {}, "list": []},
]


@pytest.mark.parametrize("data", DATA)
def test_same_bytes_as_drf(data):
    assert JSONRenderer().render(data) == renderers.JSONRenderer().render(data)


def test_an_indent_the_client_asks_for_is_honoured():
    data = {"a": [1, 2]}
    media_type = "application/json; indent=2"
    assert JSONRenderer().render(data, media_type) == renderers.JSONRenderer().render(
        data, media_type
    )


def test_what_drf_cannot_encode_fails_as_it_did():
    with pytest.raises(TypeError):
        renderers.JSONRenderer().render({"p": Point(1)})
    with pytest.raises(TypeError):
        JSONRenderer().render({"p": Point(1)})
