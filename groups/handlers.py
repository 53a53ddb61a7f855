"""Chain-event handlers for groups and memberships (registered with ajo.engine.registry)."""

from django.db.models import Exists, OuterRef, Q

from ajo.contract.reader import ContractReader
from ajo.engine.registry import (
    RevertContext,
    handles,
    on_after_window,
    on_checkpoint,
    on_revert,
    window_scope,
)
from groups import chainview, runstate, services, totals
from groups.models import Group, Membership, Token, User

handles("GroupCreated", order=10)(services.group_record_created_many)
handles("MemberJoined", order=20)(services.membership_record_joined_many)
handles("GroupStarted", order=30)(services.group_record_started_many)
handles("GroupCompleted", order=60)(services.group_record_completed_many)
window_scope(runstate.group_window)
on_checkpoint(chainview.view_reads_settle)


@on_revert(order=20)
def groups_revert_above(context: RevertContext) -> None:
    """Undo groups, joins, starts and completions from orphaned blocks; rebuild totals."""
    runstate.RunCache.clear()  # rows are about to be deleted
    block = context.block_number
    # What view reads of orphaned blocks stored goes as well: those blocks are not the chain.
    dropped = chainview.view_reads_drop(after_block=block)
    context.group_ids.update(dropped.group_ids)
    context.user_ids.update(dropped.user_ids)
    context.token_ids.update(dropped.token_ids)
    orphaned_groups = Group.objects.filter(created_block__gt=block)
    context.group_ids.update(
        Group.objects.filter(
            Q(created_block__gt=block) | Q(started_block__gt=block) | Q(completed_block__gt=block)
        ).values_list("id", flat=True)
    )
    joined = Membership.objects.filter(joined_block__gt=block)
    context.group_ids.update(joined.values_list("group_id", flat=True))
    context.user_ids.update(joined.values_list("user_id", flat=True))
    context.user_ids.update(orphaned_groups.values_list("creator_id", flat=True))
    context.token_ids.update(
        Group.objects.filter(id__in=context.group_ids).values_list("token_id", flat=True)
    )

    joined.delete()
    orphaned_groups.delete()
    Group.objects.filter(started_block__gt=block).update(start_time=None, started_block=None)
    Group.objects.filter(completed_block__gt=block).update(completed_block=None, completed_at=None)
    totals.group_recompute_many(group_ids=context.group_ids)
    totals.token_recompute_many(token_ids=context.token_ids)
    Token.objects.filter(id__in=context.token_ids, group_count=0).delete()

    # Wallets first seen in orphaned blocks and left with nothing are not on the chain any more.
    User.objects.filter(first_seen_block__gt=block, address__isnull=False, is_staff=False).exclude(
        Exists(Membership.objects.filter(user=OuterRef("pk")))
        | Exists(Group.objects.filter(creator=OuterRef("pk")))
    ).filter(id__in=context.user_ids).delete()
    totals.user_recompute_many(
        user_ids=User.objects.filter(id__in=context.user_ids).values_list("id", flat=True)
    )


@on_after_window
def tokens_read_metadata(client, contract: str) -> None:
    """Read symbol, name and decimals once for tokens sync has just met."""
    pending = list(Token.objects.filter(metadata_fetched=False).values_list("address", flat=True))
    reader = ContractReader(client, contract)
    for address in pending:
        metadata = reader.token_metadata(address)
        services.token_set_metadata(
            address=address,
            symbol=metadata.symbol,
            name=metadata.name,
            decimals=metadata.decimals,
        )
