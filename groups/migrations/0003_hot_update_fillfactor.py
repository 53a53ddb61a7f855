"""Leave room in each page of the tables whose totals sync updates on every window.

With free space on the page and no indexed column changed, PostgreSQL updates a row in place
(a HOT update) without touching its indexes: the totals updates of a sync get several times
cheaper. PostgreSQL only; SQLite has no such setting.
"""

from django.db import migrations

TABLES = ("groups_user", "groups_membership", "groups_group", "groups_token")


def set_fillfactor(apps, schema_editor, value=70):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {int(value)})")


def reset_fillfactor(apps, schema_editor):
    set_fillfactor(apps, schema_editor, value=100)


class Migration(migrations.Migration):
    dependencies = [("groups", "0002_admin_roles")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor)]
