"""django-filter pieces shared by the API's FilterSets: strict, typed, and bounded."""

import functools

import django_filters
from django import forms
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions

from ajo.addresses import InvalidAddress, normalize_address
from ajo.api.fields import ADDRESS_SCHEMA

MAX_BIGINT = 2**63 - 1  # the database's integer range: larger values would fail in SQL


class AddressFormField(forms.CharField):
    def clean(self, value):
        value = super().clean(value)
        if value in (None, ""):
            return None
        try:
            return normalize_address(value)
        except InvalidAddress as exc:
            # The reason quotes the input, which may hold a "%": pass it as a parameter,
            # never as the message Django formats.
            raise forms.ValidationError(
                "%(reason)s", code="invalid_address", params={"reason": str(exc)}
            ) from None


@extend_schema_field(ADDRESS_SCHEMA)
class AddressFilter(django_filters.CharFilter):
    """An address in any case (a mixed-case one must carry a valid EIP-55 checksum)."""

    field_class = AddressFormField


@extend_schema_field({"type": "integer", "minimum": 0, "maximum": MAX_BIGINT})
class IntFilter(django_filters.NumberFilter):
    """A whole number within the database's range (0 .. 2**63-1)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_BIGINT)
        super().__init__(*args, **kwargs)


SEARCH_MAX_LENGTH = 200


@extend_schema_field({"type": "string", "maxLength": SEARCH_MAX_LENGTH})
class SearchFilter(django_filters.CharFilter):
    """Free text (empty: no filter), at most SEARCH_MAX_LENGTH characters."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", SEARCH_MAX_LENGTH)
        super().__init__(*args, **kwargs)


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """`true` or `false` (a boolean in the schema, which is how clients send one); anything
    else is an error instead of being ignored."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", [("true", "true"), ("false", "false")])
        kwargs.setdefault("coerce", lambda value: value == "true")
        super().__init__(*args, **kwargs)


class FilterSet(django_filters.FilterSet):
    """A FilterSet whose form class is built once per class instead of once per request.

    django-filter builds a new Form class from the filters on every request; ours never
    change filters per instance, and each Form still copies its fields when instantiated.

    `refused` names parameters a list does not take, with where they belong: a 400 saying
    so, instead of being ignored (a client that sent one would get unfiltered rows). On a
    big table some filters alone would make the database read every row to find a page, or
    to find that there is none; they are parameters of the scoped lists only.
    """

    refused: dict[str, str] = {}

    def is_valid(self):
        valid = super().is_valid()
        for name, filter_ in self.filters.items():
            # Django forms take an empty value for "no filter"; the schema types these
            # parameters (a number, a boolean, an address, a choice), so an empty one is an
            # error like any other value of the wrong type. Free text may be empty.
            if self.data.get(name, None) == "" and not _free_text(filter_):
                self.form.add_error(name, "must not be empty: give a value or leave it out")
                valid = False
        refused = {name: [reason] for name, reason in self.refused.items() if name in self.data}
        if refused:
            raise exceptions.ValidationError(refused)
        return valid

    def get_form_class(self):
        form_class = type(self).__dict__.get("_form_class")
        if form_class is None:
            form_class = super().get_form_class()
            type(self)._form_class = form_class
        return form_class


def _free_text(filter_) -> bool:
    return isinstance(filter_, django_filters.CharFilter) and not isinstance(filter_, AddressFilter)


class FilterBackend(DjangoFilterBackend):
    """DjangoFilterBackend that builds no FilterSet when the request names none of its
    parameters: with no parameters a FilterSet filters nothing, yet building it (filters
    copied, a form validated) cost more than the page's serialisation."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None:
            return queryset
        names = _parameter_names(filterset_class)
        if names is not None and names.isdisjoint(request.query_params.keys()):
            return queryset
        return super().filter_queryset(request, queryset, view)


@functools.cache
def _parameter_names(filterset_class) -> frozenset[str] | None:
    """The query parameters a FilterSet reads, or None when a filter reads several
    (a MultiWidget's suffixed names): then it is always built."""
    for filter_ in filterset_class.base_filters.values():
        widget = filter_.extra.get("widget") or filter_.field_class.widget
        if isinstance(widget, forms.MultiWidget) or (
            isinstance(widget, type) and issubclass(widget, forms.MultiWidget)
        ):
            return None
    return frozenset(filterset_class.base_filters) | frozenset(filterset_class.refused)
