"""The read-only SQL console: one statement at a time, for people who hold `ajo.run_sql`.

What makes it read-only, each on its own enough for writes:
- only a statement that starts with SELECT, WITH, VALUES, TABLE, EXPLAIN or SHOW is sent; COPY,
  DDL, writes, session and transaction commands are refused before the database sees them, and
  so are functions whose effects outlive a read (set_config, large objects, advisory locks,
  server files, ...);
- it runs on a connection of its own (the replica's when DATABASE_REPLICA_URL is set), in a
  transaction that is READ ONLY (PostgreSQL `SET TRANSACTION READ ONLY`; SQLite
  `PRAGMA query_only`), always rolled back, and the connection is closed after it: no setting,
  lock or temporary object can stay behind for another request;
- PostgreSQL gets it through the extended protocol, which takes exactly one statement; SQLite's
  driver runs one statement per call;
- a statement timeout (ADMIN_SQL_TIMEOUT) and a row cap (ADMIN_SQL_ROW_CAP shown,
  ADMIN_SQL_CSV_ROW_CAP in a CSV download).
Every run, refused or not, is kept in the user's history (SqlRun) and in the admin log.
"""

from __future__ import annotations

import csv
import io
import re
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import sqlparse
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import connections
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from ajo.admin.export import csv_text
from ajo.admin.limits import sqlite_deadline
from ajo.models import SqlRun

PERMISSION = "ajo.run_sql"
READS = {"SELECT", "WITH", "VALUES", "TABLE", "EXPLAIN", "SHOW"}
WRITES = {"INSERT", "UPDATE", "DELETE", "MERGE", "TRUNCATE", "UPSERT", "REPLACE"}
DDL = {
    "CREATE",
    "ALTER",
    "DROP",
    "GRANT",
    "REVOKE",
    "COMMENT",
    "REINDEX",
    "CLUSTER",
    "VACUUM",
    "ANALYZE",
    "REFRESH",
    "SECURITY",
    "IMPORT",
    "ATTACH",
    "DETACH",
    "PRAGMA",
}
# Functions whose effect outlives the statement or reaches outside the database.
SIDE_EFFECTS = re.compile(
    r"\b(set_config|pg_advisory\w*|pg_try_advisory\w*|lo_\w+|pg_read_file|pg_read_binary_file"
    r"|pg_ls_\w+|pg_stat_file|pg_file_\w+|dblink\w*|pg_terminate_backend|pg_cancel_backend"
    r"|pg_reload_conf|pg_rotate_logfile|pg_notify|pg_switch_wal|pg_create_\w+|pg_drop_\w+"
    r"|pg_logical_\w+|pg_replication_\w+|pg_promote|pg_log_backend_memory_contexts"
    r"|nextval|setval|txid_current|pg_current_xact_id|query_to_xml\w*|table_to_xml\w*"
    r"|database_to_xml\w*|schema_to_xml\w*|cursor_to_xml\w*|load_extension|writefile"
    r"|readfile|fts\d\w*)\s*\(",
    re.IGNORECASE,
)
_UINT_TEXT = re.compile(r"^\d{78}$|^\d{97}$")  # SQLite's zero-padded uint256 and total columns


class Refused(Exception):
    pass


@dataclass
class Result:
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    truncated: bool = False
    error: str = ""
    duration_ms: int = 0
    database: str = "default"
    run: SqlRun | None = None


def console_database() -> str:
    return "replica" if "replica" in settings.DATABASES else "default"


def check_statement(sql: str) -> str:
    """The one statement to run, or Refused saying why it will not be run."""
    text = sql.strip()
    if not text:
        raise Refused("Write a statement first.")
    statements = [s for s in sqlparse.split(text) if s.strip().strip(";").strip()]
    if len(statements) > 1:
        raise Refused("One statement at a time: this is several (separated by ;).")
    statement = statements[0].strip().rstrip(";").strip() if statements else ""
    bare = sqlparse.format(statement, strip_comments=True).strip()
    if "U&" in bare.upper().replace(" ", ""):
        raise Refused('Unicode-escaped identifiers (U&"…") are not accepted here.')
    match = re.match(r"^\(*\s*([A-Za-z]+)", bare)
    keyword = match.group(1).upper() if match else ""
    if keyword == "COPY":
        raise Refused(
            "COPY is not run here: it reads or writes files and streams. "
            "Run the SELECT and use “Download CSV”."
        )
    if keyword in WRITES:
        raise Refused(f"{keyword} writes: the console only reads.")
    if keyword in DDL:
        raise Refused(f"{keyword} changes the schema or the database: the console only reads.")
    if keyword not in READS:
        raise Refused(
            f"{keyword or 'That'} is not a query: the console runs SELECT, WITH, VALUES, TABLE, "
            "EXPLAIN or SHOW."
        )
    found = SIDE_EFFECTS.search(bare.replace('"', ""))
    if found:
        raise Refused(
            f"{found.group(1)}() has effects beyond reading (settings, locks, files, large "
            "objects, sequences): not run."
        )
    return statement


def show(value) -> str:
    """A cell as text, exact: numerics in full, SQLite's padded uint256 text as the number."""
    if value is None:
        return "NULL"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(value).hex()
    if isinstance(value, str) and _UINT_TEXT.match(value):
        return str(int(value))
    return str(value)


def _execute(statement: str, *, alias: str, cap: int, seconds: float) -> tuple[list, list, bool]:
    wrapper = connections[alias].copy()
    try:
        wrapper.ensure_connection()
        raw = wrapper.connection
        if wrapper.vendor == "postgresql":
            import psycopg  # only on PostgreSQL: SQLite setups need not install the driver

            # psycopg's own cursor (Django's is a client-side binding one): binary results go
            # through the extended protocol, which refuses a second statement.
            with psycopg.Cursor(raw) as cursor:
                cursor.execute("BEGIN")
                cursor.execute("SET TRANSACTION READ ONLY")
                cursor.execute(f"SET LOCAL statement_timeout = {max(int(seconds * 1000), 1)}")
                try:
                    cursor.execute(statement, binary=True)
                    columns = [c.name for c in cursor.description or []]
                    rows = cursor.fetchmany(cap + 1) if cursor.description else []
                finally:
                    raw.rollback()
        else:
            raw.execute("PRAGMA query_only = ON")
            cursor = raw.cursor()
            cursor.execute("BEGIN")
            try:
                with sqlite_deadline(raw, seconds):
                    cursor.execute(statement)
                    columns = [c[0] for c in cursor.description or []]
                    rows = cursor.fetchmany(cap + 1) if cursor.description else []
            finally:
                raw.rollback()
                cursor.close()
        return columns, rows[:cap], len(rows) > cap
    finally:
        wrapper.close()


def _error_text(exc: BaseException, vendor: str, seconds: float) -> str:
    cause = exc.__cause__ or exc
    if getattr(cause, "sqlstate", None) == "57014" or (
        vendor == "sqlite" and "interrupted" in str(exc)
    ):
        return f"Stopped after {seconds:g} s: the console's time limit (ADMIN_SQL_TIMEOUT)."
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    if "one statement at a time" in text.lower() or "multiple commands" in text.lower():
        return "One statement at a time: this is several."
    if "readonly" in text.lower() or "read-only" in text.lower():
        return f"Refused by the read-only transaction: {text}"
    return text


def sql_run(*, user, sql: str, as_csv: bool = False) -> Result:
    """Check and run `sql` read-only; record the run (history and admin log) either way."""
    alias = console_database()
    seconds = settings.ADMIN_SQL_TIMEOUT
    cap = settings.ADMIN_SQL_CSV_ROW_CAP if as_csv else settings.ADMIN_SQL_ROW_CAP
    result = Result(database=alias)
    started = time.monotonic()
    try:
        statement = check_statement(sql)
        columns, rows, truncated = _execute(statement, alias=alias, cap=cap, seconds=seconds)
        result.columns = columns
        result.rows = [[show(value) for value in row] for row in rows]
        result.truncated = truncated
    except Refused as exc:
        result.error = str(exc)
    except Exception as exc:  # any error of the database or its driver is a message here
        result.error = _error_text(exc, connections[alias].vendor, seconds)
    result.duration_ms = int((time.monotonic() - started) * 1000)
    result.run = _record(user=user, sql=sql, result=result, as_csv=as_csv)
    return result


def _record(*, user, sql: str, result: Result, as_csv: bool) -> SqlRun:
    run = SqlRun.objects.create(
        user=user,
        sql=sql[:20_000],
        database=result.database,
        started_at=timezone.now(),
        duration_ms=result.duration_ms,
        row_count=None if result.error else len(result.rows),
        truncated=result.truncated,
        as_csv=as_csv,
        error=result.error[:2000],
    )
    outcome = f"refused: {result.error}" if result.error else f"{len(result.rows)} row(s)"
    LogEntry.objects.create(
        user_id=user.pk,
        content_type_id=ContentType.objects.get_for_model(SqlRun).pk,
        object_id=str(run.pk),
        object_repr=sql.strip()[:200],
        action_flag=ADDITION,
        change_message=f"SQL console{' (CSV)' if as_csv else ''} on {result.database}: {outcome}"[
            :1000
        ],
    )
    return run


def sql_history(*, user, limit: int = 30):
    return SqlRun.objects.filter(user=user).order_by("-id")[:limit]


_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def result_csv(result: Result) -> str:
    """The result as CSV; text a spreadsheet would run as a formula gets a leading '."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow([cell if _NUMBER.match(cell) else csv_text(cell) for cell in row])
    return buffer.getvalue()


# --- the page -------------------------------------------------------------------------------------


def console_view(request):
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied(
            "The SQL console needs the “Can run read-only SQL” permission (role analyst)."
        )
    sql = request.POST.get("sql", "") if request.method == "POST" else ""
    result = None
    if request.method == "POST":
        as_csv = request.POST.get("action") == "csv"
        result = sql_run(user=request.user, sql=sql, as_csv=as_csv)
        if as_csv and not result.error:
            stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
            response = HttpResponse(result_csv(result), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="ajo-sql-{stamp}.csv"'
            return response
    context = {
        **admin.site.each_context(request),
        "title": "SQL console",
        "sql": sql,
        "result": result,
        "history": sql_history(user=request.user),
        "database": console_database(),
        "vendor": connections[console_database()].vendor,
        "timeout": settings.ADMIN_SQL_TIMEOUT,
        "row_cap": settings.ADMIN_SQL_ROW_CAP,
        "csv_row_cap": settings.ADMIN_SQL_CSV_ROW_CAP,
    }
    status = 400 if result is not None and result.error else 200
    return TemplateResponse(request, "admin/ajo/console.html", context, status=status)
