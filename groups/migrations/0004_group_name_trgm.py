"""A trigram index for the group list's name search (`?search=`), PostgreSQL only.

Django's `icontains` on PostgreSQL is `UPPER("name"::text) LIKE UPPER('%…%')`, which no btree
index serves: every search scanned all groups twice (count and page). A GIN trigram index on
that exact expression serves it, and the statistics PostgreSQL keeps for an expression index
let the planner see how many groups match. The index is not in the model state, like the
fillfactor of 0003: SQLite has neither pg_trgm nor GIN. pg_trgm is a trusted extension
(PostgreSQL 13+): a role with CREATE on the database, such as its owner, may create it.
"""

from django.db import migrations

INDEX = "group_name_trgm"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON groups_group "
        "USING gin ((UPPER(name::text)) gin_trgm_ops)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")  # pg_trgm may serve others: kept


class Migration(migrations.Migration):
    dependencies = [("groups", "0003_hot_update_fillfactor")]

    operations = [migrations.RunPython(create_index, drop_index)]
