"""django-filter pieces shared by the API's FilterSets: strict, typed, and bounded."""

import django_filters
from django import forms
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
            raise forms.ValidationError(str(exc), code="invalid_address") from None


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
