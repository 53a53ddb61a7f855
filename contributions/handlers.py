"""contributions' one door to the engine (ajo.engine.registry): the chain events it owns,
what a revert deletes and rebuilds, the roll-up of its sums, and its checks for verify_chain.

It builds on groups: its handlers share groups' window (GROUP_WINDOW) and its revert notes
what it touched in groups' note (TOUCHED). Importing groups.handlers registers groups first,
so in revert order (the reverse) contributions deletes and rebuilds before groups does.
"""

from ajo.contract.events import ContributionMade, PayoutSent
from ajo.engine import registry
from contributions import checks, services, totals
from contributions.models import Contribution, Payout
from groups.handlers import GROUP_WINDOW, TOUCHED


@registry.handles(ContributionMade)
def _contributions_made(*, events, window):
    return services.contribution_record_many(events=events, window=GROUP_WINDOW.of(window))


@registry.handles(PayoutSent)
def _payouts_sent(*, events, window):
    return services.payout_record_many(events=events, window=GROUP_WINDOW.of(window))


def contributions_revert_delete(context: registry.RevertContext) -> None:
    """Delete contributions and payouts from orphaned blocks, noting their groups and users."""
    touched = context.note(TOUCHED)
    for model, user_field in ((Contribution, "member_id"), (Payout, "recipient_id")):
        orphaned = model.objects.filter(block_number__gt=context.block_number)
        for group_id, user_id in orphaned.values_list("group_id", user_field):
            touched.group_ids.add(group_id)
            touched.user_ids.add(user_id)
        orphaned.delete()


def contributions_revert_rebuild(context: registry.RevertContext) -> None:
    """The sums of the rows left, for every group any delete touched (groups derives its
    state from them next)."""
    totals.group_totals_rebuild(group_ids=context.note(TOUCHED).group_ids)


registry.on_revert(delete=contributions_revert_delete, rebuild=contributions_revert_rebuild)
registry.on_roll_up(totals.totals_roll_up)
registry.on_verify(chain=checks.payments_against_chain, database=checks.rows_differences)
