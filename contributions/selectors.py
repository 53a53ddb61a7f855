"""Reads for contributions and payouts, newest first by (block_number, log_index)."""

from django.db.models import QuerySet

from contributions.models import Contribution, Payout


def contribution_list() -> QuerySet[Contribution]:
    return Contribution.objects.select_related("group", "group__token", "member").order_by(
        "-block_number", "-log_index"
    )


def payout_list() -> QuerySet[Payout]:
    return Payout.objects.select_related("group", "group__token", "recipient").order_by(
        "-block_number", "-log_index"
    )


def contribution_list_for_round(*, group_id: int, round_number: int) -> QuerySet[Contribution]:
    """One round's payments of a group, unordered (a round has one per member)."""
    return Contribution.objects.filter(group_id=group_id, round=round_number).order_by()


def round_payments(*, group_id: int, round_number: int) -> dict[int, bool]:
    """Who paid one round of a group, in one query: {user_id: is_late}. The group detail
    endpoint receives this function from the URLconf (groups does not import contributions)."""
    return dict(
        contribution_list_for_round(group_id=group_id, round_number=round_number).values_list(
            "member_id", "is_late"
        )
    )
