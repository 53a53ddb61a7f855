"""Reads for users, tokens, groups and memberships; views and admin call these."""

from django.db.models import QuerySet

from groups.models import Group, Membership, User


def group_list() -> QuerySet[Group]:
    return Group.objects.select_related("token", "creator")


def group_members(*, group_id: int) -> QuerySet[Membership]:
    """Members in rotation (payout) order."""
    return Membership.objects.filter(group_id=group_id).select_related("user").order_by("position")


def membership_list_for_user(*, user: User) -> QuerySet[Membership]:
    """A wallet's seats, newest group first, with what a seat's list row shows."""
    return (
        Membership.objects.filter(user=user)
        .select_related("user", "group__token", "group__creator")
        .order_by("-group_id")
    )


def user_get_by_address(*, address: str) -> User | None:
    """`address` must already be normalised (lowercase)."""
    return User.objects.filter(address=address).first()
