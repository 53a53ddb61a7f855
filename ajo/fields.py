"""Uint256Field: one exact field type for every on-chain amount.

PostgreSQL stores numeric(78,0). SQLite has no exact wide numeric (Django's DecimalField goes
through float there and loses digits above 15), so SQLite stores a 78-digit zero-padded string:
equality and ordering stay correct because equal-width digit strings sort like the numbers.
Python always sees an int. Arithmetic is done in Python by the services, never in SQL, so it
behaves the same on both databases.
"""

from decimal import Decimal

from django import forms
from django.core import checks, exceptions
from django.db import models

UINT256_MAX = 2**256 - 1
_WIDTH = 78  # len(str(2**256 - 1))


def parse_uint256(value: object) -> int:
    """Return value as an int in 0..2**256-1 or raise ValueError saying why."""
    if isinstance(value, bool):
        raise ValueError("uint256 must be an integer, not a boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, Decimal):
        if value != value.to_integral_value():
            raise ValueError(f"uint256 must be a whole number, got {value}")
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text.isdigit() or not text.isascii():
            raise ValueError(f"uint256 must be a string of decimal digits, got {value[:90]!r}")
        number = int(text)
    else:
        raise ValueError(f"uint256 must be an integer, got {type(value).__name__}")
    if number < 0:
        raise ValueError(f"uint256 cannot be negative, got {number}")
    if number > UINT256_MAX:
        raise ValueError("uint256 cannot exceed 2**256-1")
    return number


def sqlite_text(value: int) -> str:
    """A uint256 as SQLite stores it: zero-padded to 78 digits, so that text order is number
    order (comparisons, MIN/MAX and sorting work on the column as is)."""
    return str(value).rjust(_WIDTH, "0")


class Uint256FormField(forms.CharField):
    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        try:
            return parse_uint256(value)
        except ValueError as exc:
            raise exceptions.ValidationError(str(exc), code="invalid") from exc


class Uint256Field(models.Field):
    description = "Unsigned 256-bit integer (exact)"

    def db_type(self, connection):
        if connection.vendor == "postgresql":
            return "numeric(78,0)"
        return f"varchar({_WIDTH})"

    def db_check(self, connection):
        column = connection.ops.quote_name(self.column)
        if connection.vendor == "postgresql":
            return f"{column} >= 0 AND {column} <= {UINT256_MAX}"
        if connection.vendor == "sqlite":
            return f"length({column}) = {_WIDTH} AND {column} NOT GLOB '*[^0-9]*'"
        return None

    def get_internal_type(self):
        return "Uint256Field"

    def check(self, **kwargs):
        return [*super().check(**kwargs), *self._check_no_max_length()]

    def _check_no_max_length(self):
        if self.max_length is not None:
            return [checks.Error("Uint256Field does not take max_length", obj=self)]
        return []

    def to_python(self, value):
        if value is None:
            return None
        try:
            return parse_uint256(value)
        except ValueError as exc:
            raise exceptions.ValidationError(str(exc), code="invalid") from exc

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return int(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or hasattr(value, "resolve_expression"):
            return value
        return parse_uint256(value)

    def get_db_prep_value(self, value, connection, prepared=False):
        if not prepared:
            value = self.get_prep_value(value)
        if value is None:
            return None
        if connection.vendor == "postgresql":
            return Decimal(value)
        return sqlite_text(value)

    def value_to_string(self, obj):
        value = self.value_from_object(obj)
        return "" if value is None else str(value)

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": Uint256FormField, **kwargs})


class Uint256Sum(models.Aggregate):
    """Exact SUM of a Uint256Field: numeric on PostgreSQL, the registered `uint256_sum`
    aggregate on SQLite (its SUM() would go through floating point). NULL for no rows."""

    function = "SUM"
    name = "Uint256Sum"

    def __init__(self, expression, **extra):
        super().__init__(expression, output_field=Uint256Field(), **extra)

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, function="uint256_sum", **extra_context)
