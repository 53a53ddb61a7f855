"""django-filter pieces shared by the API's FilterSets: strict, typed, and bounded."""

import functools

import django_filters
from django import forms
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field

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


class IntFilter(django_filters.NumberFilter):
    """A whole number within the database's range (0 .. 2**63-1)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_BIGINT)
        super().__init__(*args, **kwargs)


class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """`true` or `false`; anything else is an error instead of being ignored."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", [("true", "true"), ("false", "false")])
        kwargs.setdefault("coerce", lambda value: value == "true")
        super().__init__(*args, **kwargs)


class FilterSet(django_filters.FilterSet):
    """A FilterSet whose form class is built once per class instead of once per request.

    django-filter builds a new Form class from the filters on every request; ours never
    change filters per instance, and each Form still copies its fields when instantiated.

    `needs_one_of` names filters that no index serves alone, each with the parameters one of
    which must come with it (a 400 otherwise): on a big table such a filter alone would make
    the database read every row to find a page, or to find that there is none.
    """

    needs_one_of: dict[str, tuple[str, ...]] = {}

    def is_valid(self):
        if not super().is_valid():
            return False
        data = self.form.cleaned_data
        for name, companions in self.needs_one_of.items():
            if data.get(name) is not None and all(data.get(c) in (None, "") for c in companions):
                either = " or ".join(f"`{c}`" for c in companions)
                self.form.add_error(
                    name, f"`{name}` filters within one {either.replace('`', '')}: add {either}"
                )
        return not self.form.errors

    def get_form_class(self):
        form_class = type(self).__dict__.get("_form_class")
        if form_class is None:
            form_class = super().get_form_class()
            type(self)._form_class = form_class
        return form_class


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
    return frozenset(filterset_class.base_filters)
