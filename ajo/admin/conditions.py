"""The filter builder of every admin list: conditions on any column with the operators its type
allows, joined by AND or OR in up to a few groups, read from and written to the URL.

URL form (shareable, and what a saved view stores): each group is a parameter `f1`, `f2`, ...
repeated once per condition, `column:operator:value`; `fj1`, `fj2`, ... join a group's
conditions (`and`, the default, or `or`), and `fj` joins the groups.

    ?f1=amount:ge:1000000&f1=is_late:eq:true&fj1=and&f2=member__address:eq:0xAbC…&fj=or

uint256 values compare as exact integers, addresses are matched in any case, times are read
in the viewer's time zone. A value that does not parse is reported beside its condition, never
sent to the database. Each condition knows whether an index serves it; a filter no index
serves runs under a statement time limit (ajo.admin.limits).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connections, models
from django.db.models import Q
from django.utils import timezone

from ajo.addresses import InvalidAddress, normalize_address
from ajo.fields import Uint256Field, parse_uint256

GROUP_PARAM = re.compile(r"^f(\d)$")
JOIN_PARAM = re.compile(r"^fj(\d?)$")
MAX_GROUPS = 5
MAX_CONDITIONS = 12
MAX_LIST = 500  # values in one "in list"
INT_MAX = 2**63 - 1  # the widest integer column (bigint)

OPERATORS = {
    "eq": "=",
    "ne": "≠",
    "lt": "<",
    "le": "≤",
    "gt": ">",
    "ge": "≥",
    "between": "between",
    "contains": "contains",
    "startswith": "starts with",
    "in": "in list",
    "null": "is null",
    "notnull": "is not null",
}
NO_VALUE = {"null", "notnull"}
ORDERED = ["eq", "ne", "lt", "le", "gt", "ge", "between", "in"]
KIND_OPERATORS = {
    "int": ORDERED,
    "uint256": ORDERED,
    "datetime": ["eq", "ne", "lt", "le", "gt", "ge", "between"],
    "text": ["eq", "ne", "contains", "startswith", "in"],
    "address": ["eq", "ne", "in", "startswith", "contains"],
    "hex": ["eq", "ne", "in", "startswith", "contains"],
    "bool": ["eq", "ne"],
    "choice": ["eq", "ne", "in"],
    "ip": ["eq", "ne", "in"],
}
# Which operators each kind of index serves (first column of the index).
INDEX_SERVES = {
    "btree": {"eq", "in", "lt", "le", "gt", "ge", "between", "null", "notnull"},
    "hash": {"eq", "in"},
    "brin": {"eq", "lt", "le", "gt", "ge", "between"},
    "trigram": {"eq", "contains", "startswith"},
}
LOOKUPS = {
    "eq": "exact",
    "lt": "lt",
    "le": "lte",
    "gt": "gt",
    "ge": "gte",
    "in": "in",
    "contains": "contains",
    "startswith": "startswith",
}
_HEX = re.compile(r"^(0x)?[0-9a-f]*$")
_LIST_SPLIT = re.compile(r"[\s,;]+")


class ConditionError(ValueError):
    pass


@dataclass(frozen=True)
class Column:
    key: str  # the URL name: a field, or relation__field
    label: str
    path: str  # the ORM lookup path
    kind: str
    nullable: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    max_value: int = INT_MAX
    index_kinds: frozenset[str] = frozenset()

    @property
    def operators(self) -> list[str]:
        names = list(KIND_OPERATORS[self.kind])
        if self.nullable:
            names += ["null", "notnull"]
        return names

    def served(self, operator: str) -> bool:
        return any(operator in INDEX_SERVES[kind] for kind in self.index_kinds)


@dataclass
class Condition:
    column_key: str
    operator: str
    raw: str  # the value as typed ("a..b" for between)
    column: Column | None = None
    error: str = ""
    q: Q | None = None

    @property
    def indexed(self) -> bool:
        return self.column is not None and self.column.served(self.operator)

    @property
    def values(self) -> tuple[str, str]:
        low, _, high = self.raw.partition("..")
        return (low, high) if self.operator == "between" else (self.raw, "")

    def as_param(self) -> str:
        return f"{self.column_key}:{self.operator}:{self.raw}"


@dataclass
class Group:
    number: int
    join: str = "and"
    conditions: list[Condition] = field(default_factory=list)


@dataclass
class Filter:
    join: str = "and"
    groups: list[Group] = field(default_factory=list)

    @property
    def conditions(self) -> list[Condition]:
        return [c for g in self.groups for c in g.conditions]

    @property
    def active(self) -> bool:
        return bool(self.conditions)

    @property
    def errors(self) -> list[Condition]:
        return [c for c in self.conditions if c.error]

    @property
    def unindexed(self) -> list[Condition]:
        return [c for c in self.conditions if not c.error and not c.indexed]

    @property
    def index_served(self) -> bool:
        """An index narrows the rows: in an AND, one served condition is enough; in an OR,
        each branch needs one (else the database reads the whole table)."""

        def group_served(group: Group) -> bool:
            flags = [c.indexed for c in group.conditions]
            return all(flags) if group.join == "or" else any(flags)

        flags = [group_served(g) for g in self.groups if g.conditions]
        if not flags:
            return True
        return all(flags) if self.join == "or" else any(flags)

    def q(self) -> Q:
        parts = []
        for group in self.groups:
            qs = [c.q for c in group.conditions if c.q is not None]
            if qs:
                parts.append(_join(qs, group.join))
        return _join(parts, self.join) if parts else Q()

    def params(self) -> list[tuple[str, str]]:
        items: list[tuple[str, str]] = []
        for group in self.groups:
            for condition in group.conditions:
                items.append((f"f{group.number}", condition.as_param()))
            if group.conditions and group.join != "and":
                items.append((f"fj{group.number}", group.join))
        if len(self.groups) > 1 and self.join != "and":
            items.append(("fj", self.join))
        return items


def _join(parts: list[Q], join: str) -> Q:
    combined = parts[0]
    for part in parts[1:]:
        combined = (combined | part) if join == "or" else (combined & part)
    return combined


def is_filter_param(name: str) -> bool:
    return bool(GROUP_PARAM.match(name) or JOIN_PARAM.match(name))


# --- the columns of a model ---------------------------------------------------------------------


def _kind(model_field: models.Field, name: str) -> str:
    if isinstance(model_field, Uint256Field):
        return "uint256"
    if isinstance(model_field, models.BooleanField):
        return "bool"
    if isinstance(model_field, models.DateTimeField):
        return "datetime"
    if isinstance(model_field, models.GenericIPAddressField):
        return "ip"
    if isinstance(model_field, (models.IntegerField, models.AutoField, models.BigAutoField)):
        return "int"
    if getattr(model_field, "choices", None):
        return "choice"
    if name in ("address", "contract_address") or name.endswith("_address"):
        return "address"
    if name in ("hash", "tx_hash", "created_tx", "joined_tx", "last_block_hash"):
        return "hex"
    return "text"


def _max_value(model_field: models.Field) -> int:
    internal = model_field.get_internal_type()
    if internal in ("PositiveIntegerField", "IntegerField", "AutoField"):
        return 2**31 - 1
    if internal in ("PositiveSmallIntegerField", "SmallIntegerField"):
        return 2**15 - 1
    return INT_MAX


@functools.lru_cache(maxsize=64)
def _index_kinds(alias: str, table: str) -> dict[str, frozenset[str]]:
    """{column: kinds of index whose first column it is} from the database itself, so that
    indexes made by hand in migrations (hash, BRIN, trigram) count. Partial indexes serve only
    their subset of rows and do not count."""
    connection = connections[alias]
    kinds: dict[str, set[str]] = {}
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
        partial = set()
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
                "AND sql LIKE %s",
                [table, "% WHERE %"],
            )
            partial = {row[0] for row in cursor.fetchall()}
    for name, info in constraints.items():
        columns = info.get("columns") or []
        if not columns or name in partial or not (info.get("index") or info.get("unique")):
            continue
        definition = (info.get("definition") or "").lower()
        if " where " in definition:
            continue
        kind = {"hash": "hash", "brin": "brin", "gin": "trigram", "gist": "trigram"}.get(
            str(info.get("type") or "").lower(), "btree"
        )
        if kind == "trigram" and "trgm" not in definition:
            continue
        kinds.setdefault(columns[0], set()).add(kind)
    return {column: frozenset(k) for column, k in kinds.items()}


def model_columns(model, *, using: str = "default") -> list[Column]:
    """Every concrete column of the model, and the address of each related user or token."""
    meta = model._meta
    indexes = _index_kinds(using, meta.db_table)
    columns = []
    for model_field in meta.concrete_fields:
        name = model_field.name
        if model_field.is_relation:
            target = model_field.related_model
            kinds = indexes.get(model_field.column, frozenset())
            columns.append(
                Column(
                    key=name,
                    label=f"{model_field.verbose_name} (id)",
                    path=model_field.attname,
                    kind="int",
                    nullable=model_field.null,
                    index_kinds=kinds,
                )
            )
            address = next((f for f in target._meta.concrete_fields if f.name == "address"), None)
            if address is not None:
                target_indexes = _index_kinds(using, target._meta.db_table)
                columns.append(
                    Column(
                        key=f"{name}__address",
                        label=f"{model_field.verbose_name} address",
                        path=f"{name}__address",
                        kind="address",
                        nullable=address.null,
                        # The join reaches the other table through its key; the address's own
                        # index finds the few users, then this table's index on the relation.
                        index_kinds=kinds and target_indexes.get(address.column, frozenset()),
                    )
                )
            continue
        if name == "password":
            continue
        choices = tuple((str(v), str(label)) for v, label in (model_field.choices or ()))
        columns.append(
            Column(
                key=name,
                label=str(model_field.verbose_name),
                path=name,
                kind=_kind(model_field, name),
                nullable=model_field.null,
                choices=choices,
                max_value=_max_value(model_field),
                index_kinds=indexes.get(model_field.column, frozenset()),
            )
        )
    return columns


# --- parsing ------------------------------------------------------------------------------------


def _parse_int(text: str, column: Column) -> int:
    cleaned = text.strip().replace("_", "")
    if not cleaned.isdigit() or not cleaned.isascii():
        raise ConditionError(f"{text[:40]!r} is not a whole number")
    number = int(cleaned)
    if number > column.max_value:
        raise ConditionError(f"{column.label} cannot exceed {column.max_value:,}")
    return number


def _parse_uint256(text: str, column: Column) -> int:
    try:
        return parse_uint256(text.strip().replace("_", ""))
    except ValueError as exc:
        raise ConditionError(str(exc)) from exc


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _parse_datetime(text: str, column: Column) -> datetime:
    text = text.strip().replace(" ", "T")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ConditionError(
            f"{text[:40]!r} is not a date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM)"
        ) from None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)  # the viewer's zone (ajo.admin.viewerzone)
    return value


def _parse_bool(text: str, column: Column) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "1", "on"):
        return True
    if lowered in ("false", "no", "0", "off"):
        return False
    raise ConditionError(f"{text[:40]!r} is not true or false")


def _parse_address(text: str, column: Column, operator: str) -> str:
    text = text.strip()
    if operator in ("contains", "startswith"):
        lowered = text.lower()
        if not lowered or not _HEX.match(lowered) or len(lowered) > 42:
            raise ConditionError(f"{text[:50]!r} is not part of an address (hex digits)")
        return lowered
    try:
        return normalize_address(text)
    except InvalidAddress as exc:
        if re.fullmatch(r"0x[0-9a-fA-F]{40}", text):
            return text.lower()  # a mistyped checksum matches nothing stored; say nothing
        raise ConditionError(f"{text[:50]!r} is not an address (0x and 40 hex digits)") from exc


def _parse_hex(text: str, column: Column, operator: str) -> str:
    lowered = text.strip().lower()
    if not lowered or not _HEX.match(lowered) or len(lowered) > 66:
        raise ConditionError(f"{text[:70]!r} is not a hex value (0x…)")
    if operator not in ("contains", "startswith") and not lowered.startswith("0x"):
        raise ConditionError(f"{text[:70]!r} must start with 0x")
    return lowered


def _parse_choice(text: str, column: Column) -> str:
    wanted = text.strip().lower()
    for value, label in column.choices:
        if wanted in (value.lower(), label.lower()):
            return value
    allowed = ", ".join(value for value, _ in column.choices)
    raise ConditionError(f"{text[:40]!r} is not one of {allowed}")


def _parse_ip(text: str, column: Column) -> str:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise ConditionError(f"{text[:50]!r} is not an IP address") from None


def _parse_text(text: str, column: Column) -> str:
    if len(text) > 300:
        raise ConditionError("at most 300 characters")
    return text


def parse_value(column: Column, operator: str, text: str):
    if column.kind == "int":
        return _parse_int(text, column)
    if column.kind == "uint256":
        return _parse_uint256(text, column)
    if column.kind == "datetime":
        return _parse_datetime(text, column)
    if column.kind == "bool":
        return _parse_bool(text, column)
    if column.kind == "address":
        return _parse_address(text, column, operator)
    if column.kind == "hex":
        return _parse_hex(text, column, operator)
    if column.kind == "choice":
        return _parse_choice(text, column)
    if column.kind == "ip":
        return _parse_ip(text, column)
    return _parse_text(text, column)


def condition_q(column: Column, operator: str, raw: str) -> Q:
    """The condition as a Q, or ConditionError saying what is wrong with it."""
    path = column.path
    if operator not in column.operators:
        raise ConditionError(f"{OPERATORS.get(operator, operator)!s} does not apply to this column")
    if operator == "null":
        return Q(**{f"{path}__isnull": True})
    if operator == "notnull":
        return Q(**{f"{path}__isnull": False})
    if operator == "between":
        low_text, sep, high_text = raw.partition("..")
        if not sep or not low_text.strip() or not high_text.strip():
            raise ConditionError("between needs two values")
        low = parse_value(column, operator, low_text)
        high = parse_value(column, operator, high_text)
        if column.kind == "datetime" and _DATE.match(high_text.strip()):
            high = high + timedelta(days=1) - timedelta(microseconds=1)  # the whole last day
        if low > high:
            raise ConditionError("the first value is above the second")
        return Q(**{f"{path}__gte": low, f"{path}__lte": high})
    if operator == "in":
        items = [item for item in _LIST_SPLIT.split(raw.strip()) if item]
        if not items:
            raise ConditionError("give one or more values, separated by commas")
        if len(items) > MAX_LIST:
            raise ConditionError(f"at most {MAX_LIST} values")
        return Q(**{f"{path}__in": [parse_value(column, "eq", item) for item in items]})
    if not raw.strip() and column.kind != "text":
        raise ConditionError("a value is needed")
    value = parse_value(column, operator, raw)
    if column.kind == "datetime" and operator in ("eq", "ne") and _DATE.match(raw.strip()):
        # A date alone means that whole day in the viewer's zone.
        day = Q(**{f"{path}__gte": value, f"{path}__lt": value + timedelta(days=1)})
        return ~day if operator == "ne" else day
    if column.kind == "text" and operator in ("contains", "startswith"):
        return Q(**{f"{path}__i{LOOKUPS[operator]}": value})
    if operator == "ne":
        q = ~Q(**{path: value})
        return (q | Q(**{f"{path}__isnull": True})) if column.nullable else q
    return Q(**{f"{path}__{LOOKUPS[operator]}": value})


def parse_filter(params, columns: list[Column]) -> Filter:
    """The filter in `params` (a QueryDict): every condition, each with its Q or its error."""
    by_key = {column.key: column for column in columns}
    numbers = sorted({int(m.group(1)) for name in params if (m := GROUP_PARAM.match(name))})[
        :MAX_GROUPS
    ]
    result = Filter(join="or" if params.get("fj") == "or" else "and")
    count = 0
    for number in numbers:
        group = Group(number=number, join="or" if params.get(f"fj{number}") == "or" else "and")
        for item in params.getlist(f"f{number}"):
            if count >= MAX_CONDITIONS:
                break
            key, _, rest = item.partition(":")
            operator, _, raw = rest.partition(":")
            condition = Condition(column_key=key, operator=operator, raw=raw)
            count += 1
            condition.column = by_key.get(key)
            if condition.column is None:
                condition.error = f"this list has no column {key[:40]!r}"
            else:
                try:
                    condition.q = condition_q(condition.column, operator, raw)
                except ConditionError as exc:
                    condition.error = str(exc)
            group.conditions.append(condition)
        if group.conditions:
            result.groups.append(group)
    return result
