"""Half of each page free in the tables the sync's roll-up rewrites whole.

A roll-up at the end of a catch-up updates most memberships and users in one statement. An
update stays on its row's page (a HOT update, no index touched) only if the page has room
for the new version while the old one is still visible, that is for every row of the page
at once: half the page. At 70% (migration 0003) most of them moved to other pages and wrote
every index entry again, and the roll-up took several times longer. PostgreSQL only.
"""

from django.db import migrations

TABLES = ("groups_user", "groups_membership")


def set_fillfactor(apps, schema_editor, value=45):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {int(value)})")


def reset_fillfactor(apps, schema_editor):
    set_fillfactor(apps, schema_editor, value=70)


class Migration(migrations.Migration):
    dependencies = [("groups", "0004_group_name_trgm")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor)]
