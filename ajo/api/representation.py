"""A fast `to_representation` for read serializers: DRF's output, without DRF's per-row walk.

DRF deep-copies a serializer's declared fields for every serializer instance, then for every
row and field calls `get_attribute` (Mapping and callable checks, exception handling) and the
field's `to_representation`. On a page of 25 groups that was most of the request. Here a
serializer class's readable fields are read once into a plan of (key, getter, converter) and
a row is one dict comprehension. The declared fields stay as they are: the OpenAPI schema is
still generated from them, and `ajo/api/tests/test_representation.py` checks that the plan
gives exactly what DRF's own path gives for the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from operator import attrgetter
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.utils import timezone
from rest_framework import ISO_8601, fields, serializers
from rest_framework.settings import api_settings

from ajo.api.fields import AddressField, Uint256Field, checksum

Plan = tuple[tuple[str, Callable[[Any], Any], Callable[[Any], Any]], ...]

_plans: dict[type, Plan] = {}

# Field kinds whose `to_representation` depends only on the value (not on the request, the
# parent serializer or the context), so one bound field can serve every row.
_VALUE_ONLY = {
    fields.BigIntegerField.to_representation,
    fields.BooleanField.to_representation,
    fields.CharField.to_representation,
    fields.ChoiceField.to_representation,
    fields.DateTimeField.to_representation,
    fields.DictField.to_representation,
    fields.FloatField.to_representation,
    fields.IntegerField.to_representation,
    fields.ListField.to_representation,
    AddressField.to_representation,
    Uint256Field.to_representation,
}
# Plain conversions that are exactly what those methods do for a non-None value.
_DIRECT = {
    fields.CharField.to_representation: str,
    fields.IntegerField.to_representation: int,
    AddressField.to_representation: checksum,
}


# Put first in a read serializer's bases. No docstring: drf-spectacular would show it as the
# description of every serializer that uses it. Rows must be objects whose sources are plain
# attributes (fields, relations, attributes a selector set); what DRF treats specially (a
# Mapping row, a missing attribute, None part-way along a dotted source) takes DRF's path.
class FastRepresentationMixin:
    def to_representation(self, instance):
        plan = _plans.get(type(self)) or _compile(self)
        if isinstance(instance, Mapping):
            return super().to_representation(instance)
        try:
            return {
                key: None if (value := get(instance)) is None else convert(value)
                for key, get, convert in plan
            }
        except AttributeError:
            return super().to_representation(instance)


def _compile(serializer: serializers.Serializer) -> Plan:
    model = getattr(getattr(serializer, "Meta", None), "model", None)
    plan = tuple(
        (field.field_name, _getter(field, model), _converter(field))
        for field in serializer._readable_fields
    )
    _plans[type(serializer)] = plan
    return plan


def _unsupported(field: fields.Field, why: str) -> ImproperlyConfigured:
    name = f"{type(field.parent).__name__}.{field.field_name}"
    return ImproperlyConfigured(f"{name} ({type(field).__name__}) {why}")


def _getter(field: fields.Field, model) -> Callable[[Any], Any]:
    if type(field).get_attribute is not fields.Field.get_attribute:
        raise _unsupported(field, "reads its value in its own way")
    attrs = field.source_attrs
    if not attrs:  # source="*"
        return lambda instance: instance
    # DRF calls a source that is a method; the plan only reads attributes.
    if model is not None and callable(getattr(model, attrs[0], None)):
        raise _unsupported(field, "has a method as its source")
    return attrgetter(".".join(attrs))


def _converter(field: fields.Field) -> Callable[[Any], Any]:
    if isinstance(field, FastRepresentationMixin):
        return field.to_representation
    if isinstance(field, serializers.ListSerializer):
        if isinstance(field.child, FastRepresentationMixin):
            return field.to_representation
        raise _unsupported(field, "lists a serializer without the fast path")
    _require_value_only(field)
    method = type(field).to_representation
    if method is fields.DateTimeField.to_representation:
        return _datetime_converter(field)
    if method is fields.BigIntegerField.to_representation and not getattr(
        field, "coerce_to_string", api_settings.COERCE_BIGINT_TO_STRING
    ):
        return int
    return _DIRECT.get(method) or field.to_representation


def _require_value_only(field: fields.Field) -> None:
    if type(field).to_representation not in _VALUE_ONLY:
        raise _unsupported(field, "is not a field kind the fast path knows")
    child = getattr(field, "child", None)
    if child is not None:
        _require_value_only(child)


def _datetime_converter(field: fields.DateTimeField) -> Callable[[Any], Any]:
    output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
    plain = field.to_representation
    # No view activates a per-request time zone, so the zone DRF would convert to is the
    # default one; anything unusual (other formats, naive values, strings) takes DRF's path.
    if (
        not settings.USE_TZ
        or hasattr(field, "timezone")
        or output_format is None
        or output_format.lower() == ISO_8601
    ):
        return plain
    zone = timezone.get_default_timezone()

    def convert(value):
        if type(value) is datetime and value.tzinfo is not None:
            return value.astimezone(zone).strftime(output_format)
        return plain(value)

    return convert


@cache
def columns(serializer_class: type[serializers.ModelSerializer]) -> tuple[str, ...]:
    """The model fields a serializer shows, as `QuerySet.only()` paths, nested serializers
    included: a list page then loads no other column (a user row alone has 18, a group 25).

    A source that is not a model field (a property, an attribute a selector sets) adds
    nothing, so a property must read only fields the serializer shows too; otherwise each row
    loads the missing one with a query of its own, which the pinned query counts catch.
    """
    return tuple(_columns(serializer_class(), serializer_class.Meta.model, prefix=""))


def _columns(serializer: serializers.Serializer, model, *, prefix: str):
    for field in serializer._readable_fields:
        current, path = model, prefix
        for attr in field.source_attrs:
            try:
                model_field = current._meta.get_field(attr)
            except FieldDoesNotExist:
                break
            if model_field.many_to_many or model_field.one_to_many:
                break
            if not model_field.is_relation or model_field.attname == attr:
                yield path + attr
                break
            current, path = model_field.related_model, f"{path}{attr}__"
        else:  # the source ends on a relation: the nested serializer says what it shows
            if isinstance(field, serializers.Serializer):
                yield from _columns(field, current, prefix=path)
            else:
                yield path.removesuffix("__")
