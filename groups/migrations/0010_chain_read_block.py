"""The block a row read from view functions was read at (Group.read_block,
Membership.read_block), so a reorg below it reverts the row and the sync drops what its
events never confirmed.

Rows read before this column existed do not say their block: they are marked as read at
block 0, the least trusted, so the sync's next window drops what no event confirmed (the API
reads such a group again on its next miss). Nothing an event wrote is touched.
"""

from django.db import migrations, models


def mark_unproven_view_rows(apps, schema_editor):
    Group = apps.get_model("groups", "Group")
    Membership = apps.get_model("groups", "Membership")
    Group.objects.filter(source="chain_view").update(read_block=0)
    Membership.objects.filter(joined_block__isnull=True).update(read_block=0)


class Migration(migrations.Migration):

    dependencies = [
        ('groups', '0009_wide_totals'),
    ]

    operations = [
        migrations.AddField(
            model_name='group',
            name='read_block',
            field=models.PositiveBigIntegerField(blank=True, help_text='Block the view functions were read at (empty when events say it all).', null=True),
        ),
        migrations.AddField(
            model_name='membership',
            name='read_block',
            field=models.PositiveBigIntegerField(blank=True, help_text='Block the seat was read at from view functions (empty once its event came).', null=True),
        ),
        migrations.AddIndex(
            model_name='group',
            index=models.Index(condition=models.Q(('read_block__isnull', False)), fields=['read_block'], name='group_read_block_idx'),
        ),
        migrations.AddIndex(
            model_name='membership',
            index=models.Index(condition=models.Q(('read_block__isnull', False)), fields=['read_block'], name='membership_read_block_idx'),
        ),
        migrations.RunPython(mark_unproven_view_rows, migrations.RunPython.noop),
    ]
