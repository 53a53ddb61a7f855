"""The schema page: every table the admin shows, as the database holds it (columns and their
types, nullability, constraints, indexes, relations), with estimated rows and size on disk on
PostgreSQL, each table one click from its list."""

from dataclasses import dataclass, field

from django.contrib import admin
from django.db import connections, models
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse

from ajo.fields import Uint256Field, Uint256TotalField


@dataclass
class ColumnInfo:
    name: str
    type: str
    null: bool
    notes: list[str] = field(default_factory=list)
    relation: dict | None = None


@dataclass
class TableInfo:
    label: str
    model_label: str
    db_table: str
    anchor: str
    changelist_url: str
    columns: list[ColumnInfo]
    constraints: list[dict]
    indexes: list[dict]
    referenced_by: list[dict]
    rows: int | None = None
    size: str = ""
    table_size: str = ""
    index_size: str = ""


def _type(model_field: models.Field, connection) -> str:
    if isinstance(model_field, Uint256TotalField):
        return f"uint256 total, 0..2**320-1 ({model_field.db_type(connection)})"
    if isinstance(model_field, Uint256Field):
        return f"uint256 ({model_field.db_type(connection)})"
    return str(model_field.db_type(connection) or model_field.get_internal_type())


def _anchor(model) -> str:
    return f"table-{model._meta.db_table}"


def _changelist(model) -> str:
    try:
        return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    except NoReverseMatch:
        return ""


def _human_size(size: int | None) -> str:
    if size is None:
        return ""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return ""


def _postgres_stats(cursor, tables: list[str]) -> dict[str, tuple]:
    cursor.execute(
        """
        SELECT c.relname, c.reltuples::bigint, pg_total_relation_size(c.oid),
               pg_relation_size(c.oid), pg_indexes_size(c.oid)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND n.nspname = current_schema() AND c.relname = ANY(%s)
        """,
        [tables],
    )
    return {row[0]: row[1:] for row in cursor.fetchall()}


def _index_definitions(cursor, vendor: str, table: str) -> dict[str, str]:
    if vendor == "postgresql":
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = current_schema() AND tablename = %s",
            [table],
        )
    else:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s",
            [table],
        )
    return {name: definition or "" for name, definition in cursor.fetchall()}


def schema_tables(*, user, using: str = "default") -> list[TableInfo]:
    """The tables of every model the admin shows that `user` may view, in sidebar order."""
    connection = connections[using]
    visible = [
        model
        for model, model_admin in admin.site._registry.items()
        if user.has_perm(f"{model._meta.app_label}.view_{model._meta.model_name}")
    ]
    visible.sort(key=lambda m: (m._meta.app_label, m._meta.model_name))
    shown = set(visible)
    tables = []
    with connection.cursor() as cursor:
        stats = {}
        if connection.vendor == "postgresql":
            stats = _postgres_stats(cursor, [m._meta.db_table for m in visible])
        for model in visible:
            meta = model._meta
            introspected = connection.introspection.get_constraints(cursor, meta.db_table)
            definitions = _index_definitions(cursor, connection.vendor, meta.db_table)
            columns = []
            for model_field in meta.concrete_fields:
                info = ColumnInfo(
                    name=model_field.column,
                    type=_type(model_field, connection),
                    null=model_field.null,
                )
                if model_field.primary_key:
                    info.notes.append("primary key")
                elif model_field.unique:
                    info.notes.append("unique")
                if model_field.is_relation:
                    target = model_field.related_model
                    info.relation = {
                        "table": target._meta.db_table,
                        "anchor": _anchor(target) if target in shown else "",
                        "changelist_url": _changelist(target),
                        "constraint": bool(getattr(model_field, "db_constraint", True)),
                    }
                    if not model_field.db_constraint:
                        info.notes.append("no database constraint (checked by verify_chain)")
                columns.append(info)
            constraints, indexes = [], []
            for name, item in sorted(introspected.items()):
                kind = (
                    "primary key"
                    if item.get("primary_key")
                    else "foreign key"
                    if item.get("foreign_key")
                    else "check"
                    if item.get("check")
                    else "unique"
                    if item.get("unique")
                    else ""
                )
                if item.get("index") and not item.get("primary_key"):
                    indexes.append(
                        {
                            "name": name,
                            "columns": ", ".join(item.get("columns") or []),
                            "unique": bool(item.get("unique")),
                            "definition": definitions.get(name, ""),
                        }
                    )
                if kind:
                    target = item.get("foreign_key")
                    constraints.append(
                        {
                            "name": name,
                            "kind": kind,
                            "columns": ", ".join(item.get("columns") or []),
                            "references": f"{target[0]}.{target[1]}" if target else "",
                            "definition": item.get("definition") or "",
                        }
                    )
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = %s::regclass",
                    [meta.db_table],
                )
                texts = dict(cursor.fetchall())
                for item in constraints:
                    item["definition"] = texts.get(item["name"], item["definition"])
            # Django's own model checks are kept in Meta; SQLite's introspection reports CHECK
            # constraints without their text, so the model's condition is shown too.
            for constraint in meta.constraints:
                if isinstance(constraint, models.CheckConstraint):
                    for item in constraints:
                        if item["name"] == constraint.name and not item["definition"]:
                            item["definition"] = str(constraint.condition)
            referenced_by = [
                {
                    "table": rel.related_model._meta.db_table,
                    "column": rel.field.column,
                    "anchor": _anchor(rel.related_model) if rel.related_model in shown else "",
                }
                for rel in meta.related_objects
                if not rel.many_to_many and rel.related_model in shown
            ]
            row_stats = stats.get(meta.db_table)
            table = TableInfo(
                label=str(meta.verbose_name_plural).capitalize(),
                model_label=meta.label,
                db_table=meta.db_table,
                anchor=_anchor(model),
                changelist_url=_changelist(model),
                columns=columns,
                constraints=constraints,
                indexes=indexes,
                referenced_by=referenced_by,
            )
            if row_stats is not None:
                reltuples, total, heap, index_bytes = row_stats
                table.rows = int(reltuples) if reltuples is not None and reltuples >= 0 else None
                table.size = _human_size(total)
                table.table_size = _human_size(heap)
                table.index_size = _human_size(index_bytes)
            tables.append(table)
    return tables


def schema_view(request):
    context = {
        **admin.site.each_context(request),
        "title": "Schema",
        "tables": schema_tables(user=request.user),
        "vendor": connections["default"].vendor,
    }
    return TemplateResponse(request, "admin/ajo/schema.html", context)
