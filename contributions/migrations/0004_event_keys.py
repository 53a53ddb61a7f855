"""Cheaper event inserts: key events by (block number, log index), drop the indexes the
composite ones already cover, and keep the relations without per-row constraint checks (see
contributions/models.py). Tx hash lookups (admin search) get a hash index on PostgreSQL:
a fraction of the size and insert cost of a btree over 66-character strings.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


TX_HASH_INDEXES = (
    ("contribution_tx_hash_idx", "contributions_contribution"),
    ("payout_tx_hash_idx", "contributions_payout"),
)


def add_tx_hash_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, table in TX_HASH_INDEXES:
            schema_editor.execute(f"CREATE INDEX {name} ON {table} USING hash (tx_hash)")
    else:  # SQLite: a plain index
        for name, table in TX_HASH_INDEXES:
            schema_editor.execute(f"CREATE INDEX {name} ON {table} (tx_hash)")


def drop_tx_hash_indexes(apps, schema_editor):
    for name, _ in TX_HASH_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ('contributions', '0003_contribution_late_index'),
        ('groups', '0003_hot_update_fillfactor'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='contribution',
            name='contribution_log_uniq',
        ),
        migrations.RemoveConstraint(
            model_name='payout',
            name='payout_log_uniq',
        ),
        migrations.RemoveIndex(
            model_name='contribution',
            name='contribution_block_idx',
        ),
        migrations.RemoveIndex(
            model_name='payout',
            name='payout_block_idx',
        ),
        migrations.AlterField(
            model_name='contribution',
            name='group',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='contributions', to='groups.group'),
        ),
        migrations.AlterField(
            model_name='contribution',
            name='member',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='contributions', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='payout',
            name='group',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='payouts', to='groups.group'),
        ),
        migrations.AlterField(
            model_name='payout',
            name='recipient',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='payouts', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddConstraint(
            model_name='contribution',
            constraint=models.UniqueConstraint(fields=('block_number', 'log_index'), name='contribution_log_uniq'),
        ),
        migrations.AddConstraint(
            model_name='payout',
            constraint=models.UniqueConstraint(fields=('block_number', 'log_index'), name='payout_log_uniq'),
        ),
        migrations.RunPython(add_tx_hash_indexes, drop_tx_hash_indexes),
    ]
