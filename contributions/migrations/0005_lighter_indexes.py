"""Two fewer btree indexes on contributions: a group's rows come through the unique
(group, round, member) index, and block-time ranges through a BRIN index on PostgreSQL
(block time grows with the block number, so a block-range summary answers them).
"""

from django.db import migrations


def add_block_time_index(apps, schema_editor):
    using = "USING brin " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(
        f"CREATE INDEX contribution_time_brin ON contributions_contribution {using}(block_time)"
    )


def drop_block_time_index(apps, schema_editor):
    schema_editor.execute("DROP INDEX IF EXISTS contribution_time_brin")


class Migration(migrations.Migration):

    dependencies = [
        ('contributions', '0004_event_keys'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='contribution',
            name='contribution_group_block_idx',
        ),
        migrations.RemoveIndex(
            model_name='contribution',
            name='contribution_time_idx',
        ),
        migrations.RunPython(add_block_time_index, drop_block_time_index),
    ]
