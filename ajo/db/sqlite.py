"""SQL functions for SQLite: exact uint256 arithmetic on the zero-padded text columns.

PostgreSQL adds numeric columns exactly by itself; SQLite's SUM() and + would go through
floating point. `uint256_add` and the aggregate `uint256_sum` are registered on every SQLite
connection (ajo.apps wires register_sqlite_functions to connection_created); what they return
is a total (ajo.fields.Uint256TotalField), the only columns SQL adds into.
"""

from ajo.fields import TOTAL_WIDTH, parse_total, sqlite_text


def sqlite_uint256_add(a: str | None, b: str | int | None) -> str | None:
    """SQL function for SQLite: exact sum of two uint256 values or totals, in the stored text
    form of a total."""
    if a is None or b is None:
        return None
    return sqlite_text(parse_total(int(a) + int(b)), TOTAL_WIDTH)


class SqliteUint256Sum:
    """SQL aggregate for SQLite: exact sum of uint256 values or totals, in the stored text
    form of a total (SUM() would go through floating point)."""

    def __init__(self):
        self.total = 0

    def step(self, value: str | None) -> None:
        if value is not None:
            self.total += int(value)

    def finalize(self) -> str:
        return sqlite_text(parse_total(self.total), TOTAL_WIDTH)


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "uint256_add", 2, sqlite_uint256_add, deterministic=True
        )
        connection.connection.create_aggregate("uint256_sum", 1, SqliteUint256Sum)
