"""Columns as wide as the contract's types: uint16 member counts and seats in integer
columns (smallint stops at 32,767), the uint64 round length in an exact uint256 column
(bigint stops at 2**63 - 1). A group created with larger values stopped the sync.

The round length moves through a new column: on SQLite a uint256 is zero-padded text, which
a plain type change would not write.
"""

from django.db import migrations, models

import ajo.fields


def copy_frequency(apps, schema_editor):
    padded = "printf('%078d', frequency)" if schema_editor.connection.vendor == "sqlite" else "frequency"
    schema_editor.execute(f"UPDATE groups_group SET frequency_exact = {padded}")


def copy_frequency_back(apps, schema_editor):
    schema_editor.execute("UPDATE groups_group SET frequency = CAST(frequency_exact AS bigint)")
    if schema_editor.connection.vendor == "postgresql":
        # the deferred checks this update queued must run before the next ALTER TABLE
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):

    dependencies = [
        ('groups', '0007_group_name_any_length'),
    ]

    operations = [
        migrations.RemoveConstraint(model_name='group', name='group_frequency_gt_0'),
        migrations.AddField(
            model_name='group',
            name='frequency_exact',
            field=ajo.fields.Uint256Field(null=True),
        ),
        migrations.AlterField(  # so that going back can add it before filling it
            model_name='group',
            name='frequency',
            field=models.PositiveBigIntegerField(null=True),
        ),
        migrations.RunPython(copy_frequency, copy_frequency_back),
        migrations.RemoveField(model_name='group', name='frequency'),
        migrations.RenameField(model_name='group', old_name='frequency_exact', new_name='frequency'),
        migrations.AlterField(
            model_name='group',
            name='frequency',
            field=ajo.fields.Uint256Field(help_text='Seconds per round (uint64).'),
        ),
        migrations.AddConstraint(
            model_name='group',
            constraint=models.CheckConstraint(condition=models.Q(('frequency__gt', 0)), name='group_frequency_gt_0'),
        ),
        migrations.AlterField(
            model_name='group',
            name='max_members',
            field=models.PositiveIntegerField(),
        ),
        migrations.AlterField(
            model_name='group',
            name='member_count',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name='group',
            name='paid_this_round',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name='membership',
            name='position',
            field=models.PositiveIntegerField(),
        ),
    ]
