"""groups' one door to the engine (ajo.engine.registry): the chain events it owns, its run
state and window scope, what a revert deletes and rebuilds, the hooks after a window, at a
checkpoint and before a tx ingest, and its checks for verify_chain."""

from django.db.models import Exists, OuterRef, Q

from ajo.contract.events import GroupCompleted, GroupCreated, GroupStarted, MemberJoined
from ajo.contract.reader import ContractReader
from ajo.engine import registry
from groups import chainview, checks, services, totals
from groups.models import Group, Membership, Token, User
from groups.runstate import RunCache, group_window

# The ids and groups one sync run has seen (reset by the engine on reverts and failures).
GROUPS_RUN = registry.run_state(RunCache, clear=RunCache.clear)
# The groups one window's handlers share, written back once at its end; contributions'
# handlers use it too.
GROUP_WINDOW = registry.window_scope(
    lambda window: group_window(
        run=GROUPS_RUN.of(window.run), out=window.out, request_barrier=window.request_barrier
    )
)
# What a revert's deletes touched: groups', users' and tokens' ids to rebuild.
TOUCHED = registry.revert_note(totals.Touched)


@registry.handles(GroupCreated)
def _groups_created(*, events, window):
    return services.group_record_created_many(events=events, window=GROUP_WINDOW.of(window))


@registry.handles(MemberJoined)
def _members_joined(*, events, window):
    return services.membership_record_joined_many(events=events, window=GROUP_WINDOW.of(window))


@registry.handles(GroupStarted)
def _groups_started(*, events, window):
    return services.group_record_started_many(events=events, window=GROUP_WINDOW.of(window))


@registry.handles(GroupCompleted)
def _groups_completed(*, events, window):
    return services.group_record_completed_many(events=events, window=GROUP_WINDOW.of(window))


def groups_revert_delete(context: registry.RevertContext) -> None:
    """Undo groups, joins, starts and completions from orphaned blocks, noting what the
    rebuild must redo (contributions' delete, which runs first, noted its groups and users)."""
    touched = context.note(TOUCHED)
    block = context.block_number
    # What view reads of orphaned blocks stored goes as well: those blocks are not the chain.
    dropped = chainview.view_reads_drop(after_block=block)
    touched.group_ids.update(dropped.group_ids)
    touched.user_ids.update(dropped.user_ids)
    touched.token_ids.update(dropped.token_ids)
    orphaned_groups = Group.objects.filter(created_block__gt=block)
    touched.group_ids.update(
        Group.objects.filter(
            Q(created_block__gt=block) | Q(started_block__gt=block) | Q(completed_block__gt=block)
        ).values_list("id", flat=True)
    )
    joined = Membership.objects.filter(joined_block__gt=block)
    touched.group_ids.update(joined.values_list("group_id", flat=True))
    touched.user_ids.update(joined.values_list("user_id", flat=True))
    touched.user_ids.update(orphaned_groups.values_list("creator_id", flat=True))
    touched.token_ids.update(
        Group.objects.filter(id__in=touched.group_ids).values_list("token_id", flat=True)
    )

    joined.delete()
    orphaned_groups.delete()
    Group.objects.filter(started_block__gt=block).update(start_time=None, started_block=None)
    Group.objects.filter(completed_block__gt=block).update(completed_block=None, completed_at=None)


def groups_revert_rebuild(context: registry.RevertContext) -> None:
    """After every delete, and after contributions rebuilt the sums: member counts and
    derived state, tokens' totals, then users, dropping what no block holds any more."""
    touched = context.note(TOUCHED)
    block = context.block_number
    totals.group_rebuild_state(group_ids=touched.group_ids)
    totals.token_recompute_many(token_ids=touched.token_ids)
    Token.objects.filter(id__in=touched.token_ids, group_count=0).delete()

    # Wallets first seen in orphaned blocks and left with nothing are not on the chain any more.
    User.objects.filter(first_seen_block__gt=block, address__isnull=False, is_staff=False).exclude(
        Exists(Membership.objects.filter(user=OuterRef("pk")))
        | Exists(Group.objects.filter(creator=OuterRef("pk")))
    ).filter(id__in=touched.user_ids).delete()
    totals.user_recompute_many(
        user_ids=User.objects.filter(id__in=touched.user_ids).values_list("id", flat=True)
    )


registry.on_revert(delete=groups_revert_delete, rebuild=groups_revert_rebuild)


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


registry.on_after_window(tokens_read_metadata)
registry.on_checkpoint(chainview.view_reads_settle)
registry.before_ingest(chainview.groups_ensure_known)
registry.on_verify(chain=checks.groups_against_chain, database=checks.group_state_differences)
