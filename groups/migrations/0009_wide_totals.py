"""Totals as wide as any sum of uint256 amounts (ajo.fields.Uint256TotalField): a group's,
token's, member's or user's total adds up every round and group, and with a token anyone can
mint it went past 2**256 - 1, which stopped the sync for good.

PostgreSQL: numeric(78,0) becomes numeric (no table rewrite) with a check up to 2**320 - 1.
SQLite: the 78-digit zero-padded text is padded again to 97 digits, in the same table copy
that changes the column's check. Going back works while every total still fits a uint256;
otherwise it stops, names the row, and changes nothing.
"""

from django.db import migrations

import ajo.fields


class AlterPaddedWidth(migrations.AlterField):
    """AlterField between two zero-padded unsigned fields of different widths."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        self._alter(app_label, schema_editor, from_state, to_state, backwards=False)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        self._alter(app_label, schema_editor, from_state, to_state, backwards=True)

    def _alter(self, app_label, schema_editor, from_state, to_state, *, backwards):
        old_model = from_state.apps.get_model(app_label, self.model_name)
        new_model = to_state.apps.get_model(app_label, self.model_name)
        old_field = old_model._meta.get_field(self.name)
        new_field = new_model._meta.get_field(self.name)
        if backwards:
            _refuse_above(schema_editor, new_model, old_field, new_field.max_value)
        connection = schema_editor.connection
        table = schema_editor.quote_name(new_model._meta.db_table)
        column = schema_editor.quote_name(new_field.column)
        if connection.vendor != "sqlite":
            schema_editor.alter_field(old_model, old_field, new_field)
            # Django changes only the checks of its own column types: replace the range check
            # under the name PostgreSQL gives it in a new table.
            own = {constraint.name for constraint in old_model._meta.constraints}
            for name in schema_editor._constraint_names(
                old_model, [old_field.column], check=True, exclude=own
            ):
                schema_editor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {schema_editor.quote_name(name)}")
            name = schema_editor.quote_name(f"{new_model._meta.db_table}_{new_field.column}_check")
            schema_editor.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({new_field.db_check(connection)})"
            )
            return
        width = new_field.width
        # The table copy checks the new width on text of the old one: checks are off during
        # the copy and the re-padding, on again once every value has the new width.
        schema_editor.execute("PRAGMA ignore_check_constraints = 1")
        try:
            schema_editor.alter_field(old_model, old_field, new_field)
            schema_editor.execute(
                f"UPDATE {table} SET {column} = substr('{'0' * width}' || {column}, -{width}) "  # noqa: S608
                f"WHERE {column} IS NOT NULL"
            )
        finally:
            schema_editor.execute("PRAGMA ignore_check_constraints = 0")


def _refuse_above(schema_editor, model, field, maximum: int) -> None:
    """Going back to a uint256 column: stop, naming the row, if a total does not fit."""
    connection = schema_editor.connection
    table = schema_editor.quote_name(model._meta.db_table)
    column = schema_editor.quote_name(field.column)
    limit = field.sqlite_text(maximum) if connection.vendor == "sqlite" else maximum
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {schema_editor.quote_name(model._meta.pk.column)} FROM {table} "  # noqa: S608
            f"WHERE {column} > %s LIMIT 1",
            [limit],
        )
        row = cursor.fetchone()
    if row is not None:
        raise RuntimeError(
            f"cannot migrate back: {model._meta.db_table} row {row[0]} has {field.name} above "
            f"2**256-1, which the older column cannot hold"
        )


class Migration(migrations.Migration):

    dependencies = [
        ('groups', '0008_chain_integer_widths'),
    ]

    operations = [
        AlterPaddedWidth(
            model_name=model,
            name=name,
            field=ajo.fields.Uint256TotalField(default=0),
        )
        for model, name in [
            ('group', 'total_contributed'),
            ('group', 'total_paid_out'),
            ('membership', 'total_contributed'),
            ('token', 'total_contributed'),
            ('token', 'total_paid_out'),
            ('user', 'total_contributed'),
            ('user', 'total_received'),
        ]
    ]
