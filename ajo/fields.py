"""Exact unsigned integer fields: Uint256Field for every on-chain amount, Uint256TotalField
for the sums of them.

PostgreSQL stores numeric. SQLite has no exact wide numeric (Django's DecimalField goes
through float there and loses digits above 15), so SQLite stores a zero-padded string of a
fixed width: equality and ordering stay correct because equal-width digit strings sort like
the numbers. Python always sees an int. Arithmetic is done in Python by the services, or by
SQL that is exact on both databases (ajo.db.bulk, ajo.db.sqlite), so it behaves the same on both.

Why two: one event's amount is a uint256 (the contract's checked arithmetic caps even a
round's pot), but a group's, token's, member's or user's total adds up amounts from every
round and group, and anyone can deploy a mintable token and pay amounts near 2**256 / members:
a few rounds go past 2**256 - 1. A total is a sum of fewer than 2**64 uint256 values (no chain
holds 2**64 events), so it stays below 2**320: 97 digits.
"""

from decimal import Decimal

from django import forms
from django.core import checks, exceptions
from django.db import models

UINT256_MAX = 2**256 - 1
_WIDTH = 78  # len(str(2**256 - 1))
TOTAL_MAX = 2**320 - 1  # above any sum of fewer than 2**64 uint256 values
TOTAL_WIDTH = 97  # len(str(2**320 - 1))


def parse_uint256(value: object) -> int:
    """Return value as an int in 0..2**256-1 or raise ValueError saying why."""
    return _parse_unsigned(value, what="uint256", maximum=UINT256_MAX, limit="2**256-1")


def parse_total(value: object) -> int:
    """Return value as an int in 0..2**320-1 (a total of uint256 amounts) or raise ValueError."""
    return _parse_unsigned(value, what="a total", maximum=TOTAL_MAX, limit="2**320-1")


def _parse_unsigned(value: object, *, what: str, maximum: int, limit: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{what} must be an integer, not a boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, Decimal):
        if value != value.to_integral_value():
            raise ValueError(f"{what} must be a whole number, got {value}")
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text.isdigit() or not text.isascii():
            raise ValueError(f"{what} must be a string of decimal digits, got {value[:90]!r}")
        number = int(text)
    else:
        raise ValueError(f"{what} must be an integer, got {type(value).__name__}")
    if number < 0:
        raise ValueError(f"{what} cannot be negative, got {number}")
    if number > maximum:
        raise ValueError(f"{what} cannot exceed {limit}")
    return number


def sqlite_text(value: int, width: int = _WIDTH) -> str:
    """A value as SQLite stores it: zero-padded to the column's width (78 digits for a
    uint256, TOTAL_WIDTH for a total), so that text order is number order (comparisons,
    MIN/MAX and sorting work on the column as is)."""
    return str(value).rjust(width, "0")


class Uint256FormField(forms.CharField):
    def __init__(self, *, parse=parse_uint256, **kwargs):
        self.parse = parse
        super().__init__(**kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        try:
            return self.parse(value)
        except ValueError as exc:
            raise exceptions.ValidationError(str(exc), code="invalid") from exc


class Uint256Field(models.Field):
    description = "Unsigned 256-bit integer (exact)"
    max_value = UINT256_MAX
    width = _WIDTH  # SQLite: digits of the zero-padded text
    postgres_type = "numeric(78,0)"

    def db_type(self, connection):
        if connection.vendor == "postgresql":
            return self.postgres_type
        return f"varchar({self.width})"

    def db_check(self, connection):
        column = connection.ops.quote_name(self.column)
        if connection.vendor == "postgresql":
            return f"{column} >= 0 AND {column} <= {self.max_value}"
        if connection.vendor == "sqlite":
            return f"length({column}) = {self.width} AND {column} NOT GLOB '*[^0-9]*'"
        return None

    def get_internal_type(self):
        return "Uint256Field"

    def check(self, **kwargs):
        return [*super().check(**kwargs), *self._check_no_max_length()]

    def _check_no_max_length(self):
        if self.max_length is not None:
            return [checks.Error("Uint256Field does not take max_length", obj=self)]
        return []

    def parse(self, value: object) -> int:
        return parse_uint256(value)

    def sqlite_text(self, value: int) -> str:
        return sqlite_text(value, self.width)

    def to_python(self, value):
        if value is None:
            return None
        try:
            return self.parse(value)
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
        return self.parse(value)

    def get_db_prep_value(self, value, connection, prepared=False):
        if not prepared:
            value = self.get_prep_value(value)
        if value is None:
            return None
        if connection.vendor == "postgresql":
            return Decimal(value)
        return self.sqlite_text(value)

    def value_to_string(self, obj):
        value = self.value_from_object(obj)
        return "" if value is None else str(value)

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": Uint256FormField, "parse": self.parse, **kwargs})


class Uint256TotalField(Uint256Field):
    """A sum of uint256 amounts (a group's, token's, member's or user's total): 0..2**320-1.

    PostgreSQL stores numeric without a precision (the cap is the check, the same range as on
    SQLite), SQLite a 97-digit zero-padded string. Per-event amounts stay Uint256Field."""

    description = "Sum of uint256 values (exact, below 2**320)"
    max_value = TOTAL_MAX
    width = TOTAL_WIDTH
    postgres_type = "numeric"

    def parse(self, value: object) -> int:
        return parse_total(value)


class Uint256Sum(models.Aggregate):
    """Exact SUM of a uint256 column (amounts or totals): numeric on PostgreSQL, the
    registered `uint256_sum` aggregate on SQLite (its SUM() would go through floating point).
    A sum is a total: Uint256TotalField. NULL for no rows."""

    function = "SUM"
    name = "Uint256Sum"

    def __init__(self, expression, **extra):
        super().__init__(expression, output_field=Uint256TotalField(), **extra)

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, function="uint256_sum", **extra_context)
