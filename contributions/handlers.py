"""Chain-event handlers for contributions and payouts (registered with ajo.engine.registry)."""

from ajo.engine.registry import RevertContext, handles, on_revert, on_roll_up
from contributions import services
from contributions.models import Contribution, Payout

handles("ContributionMade", order=40)(services.contribution_record_many)
handles("PayoutSent", order=50)(services.payout_record_many)
on_roll_up(services.totals_roll_up)


@on_revert(order=10)
def contributions_revert_above(context: RevertContext) -> None:
    """Delete contributions and payouts from orphaned blocks; groups rebuild totals after."""
    for model, user_field in ((Contribution, "member_id"), (Payout, "recipient_id")):
        orphaned = model.objects.filter(block_number__gt=context.block_number)
        for group_id, user_id in orphaned.values_list("group_id", user_field):
            context.group_ids.add(group_id)
            context.user_ids.add(user_id)
        orphaned.delete()
