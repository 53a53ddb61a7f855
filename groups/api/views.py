"""Group and user endpoints. Views stay thin: selectors read, services write.

The group- and user-scoped event lists live with the events (contributions/api/views.py) and
build on the scoped list views here.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import APIView

from ajo.addresses import InvalidAddress, normalize_address
from ajo.api.cache import SOURCE_CHAIN_VIEW, SOURCE_INDEX, mark
from ajo.api.filters import MAX_BIGINT
from ajo.api.generics import ListView
from ajo.api.pagination import PagePagination
from ajo.api.representation import columns
from ajo.api.throttling import ChainReadThrottle
from ajo.chainreads import (
    CHAIN_READ_SECONDS,
    cache_stats_record,
    chain_group_count,
    chain_read_guard,
)
from ajo.contract.deployment import ContractNotConfigured
from groups.api.filters import GroupFilter
from groups.api.selectors import RoundPayments, group_detail
from groups.api.serializers import (
    GroupDetailSerializer,
    GroupSerializer,
    MembershipSerializer,
    RotationEntrySerializer,
    UserGroupSerializer,
    UserSerializer,
)
from groups.chainview import group_refresh_from_chain
from groups.models import Group
from groups.selectors import (
    group_list,
    group_members,
    membership_list_for_user,
    user_get_by_address,
)

GROUP_ID = OpenApiParameter(
    "group_id",
    {"type": "integer", "minimum": 1, "maximum": MAX_BIGINT},
    OpenApiParameter.PATH,
    description="On-chain group id (from 1).",
)
ADDRESS = OpenApiParameter(
    "address",
    str,
    OpenApiParameter.PATH,
    description="Wallet address, any case (mixed case must be a valid EIP-55 checksum).",
    pattern=r"^0x[0-9a-fA-F]{40}$",
)


def _group_id_in_range(group_id: int) -> int:
    if not 1 <= group_id <= MAX_BIGINT:
        raise exceptions.NotFound(f"group {group_id} does not exist (ids start at 1)")
    return group_id


def require_group(group_id: int) -> None:
    _group_id_in_range(group_id)
    if not Group.objects.filter(id=group_id).exists():
        raise exceptions.NotFound(f"group {group_id} is not indexed")


def _user_or_404(address: str):
    try:
        normalized = normalize_address(address)
    except InvalidAddress as exc:
        raise exceptions.ValidationError({"address": [str(exc)]}) from None
    user = user_get_by_address(address=normalized)
    if user is None:
        raise exceptions.NotFound(f"no activity indexed for address {address}")
    return user


class GroupScopedListView(ListView):
    """A list under /api/groups/{group_id}/: a 404 for a group that is not indexed."""

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no group
            return self.get_serializer_class().Meta.model.objects.none()
        group_id = self.kwargs["group_id"]
        require_group(group_id)
        return self.rows(group_id=group_id)

    def rows(self, *, group_id: int):
        raise NotImplementedError


class UserScopedListView(ListView):
    """A list under /api/users/{address}/: a 400 for a malformed address, a 404 for one
    with no activity."""

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no address
            return self.get_serializer_class().Meta.model.objects.none()
        return self.rows(user=_user_or_404(self.kwargs["address"]))

    def rows(self, *, user):
        raise NotImplementedError


@extend_schema(tags=["groups"])
class GroupListView(ListView):
    """Groups, newest first; filter by status, token, creator or member; search by name."""

    serializer_class = GroupSerializer
    filterset_class = GroupFilter
    pagination_class = PagePagination

    def get_queryset(self):
        return group_list().order_by("-id")


@extend_schema(tags=["groups"], parameters=[GROUP_ID], responses=GroupDetailSerializer)
class GroupDetailView(APIView):
    """One group as a member's screen needs it (cache-first).

    A group the database does not have yet is read from the contract's view functions,
    stored and returned; a group the chain does not have either is a 404. Such misses are
    throttled per client (API_CHAIN_READ_RATE); an id above the contract's groupCount() is a
    404 without reading the group; a node that failed moments ago is not asked again (503).
    """

    error_codes = ["429", "502", "503"]
    round_payments: RoundPayments | None = None  # set by as_view()

    @classmethod
    def as_view(cls, *, round_payments: RoundPayments, **initkwargs):
        """`round_payments`: who paid a round ({user_id: is_late}); the URLconf passes
        contributions' selector, which groups cannot import."""
        return super().as_view(round_payments=round_payments, **initkwargs)

    def _detail(self, group_id: int, group: Group | None = None) -> Group | None:
        return group_detail(
            group_id=group_id,
            round_payments=self.round_payments,
            group_columns=columns(GroupDetailSerializer),
            member_columns=columns(RotationEntrySerializer),
            group=group,
        )

    def get(self, request, group_id: int):
        _group_id_in_range(group_id)
        group = self._detail(group_id)
        cache_stats_record(hit=group is not None)
        if group is None:
            throttle = ChainReadThrottle()
            if not throttle.allow_request(request, self):
                self.throttled(request, throttle.wait())
            try:
                if group_id > chain_group_count():
                    raise exceptions.NotFound(f"group {group_id} does not exist")
                with chain_read_guard():
                    stored = group_refresh_from_chain(group_id=group_id, max_age=CHAIN_READ_SECONDS)
            except ContractNotConfigured:  # no contract configured: nothing to read through to
                stored = None
            if stored is None:
                raise exceptions.NotFound(f"group {group_id} does not exist")
            group = self._detail(group_id, stored)
        # Cached like every answer, counted apart when it shows a group read from view
        # functions; until the round's deadline, after which the same rows say "overdue".
        deadline = group.round.deadline
        return mark(
            Response(GroupDetailSerializer(group).data),
            source=SOURCE_CHAIN_VIEW if group.source == Group.Source.CHAIN_VIEW else SOURCE_INDEX,
            expires_at=(
                int(deadline.timestamp()) if deadline and not group.round.is_overdue else None
            ),
        )


@extend_schema(tags=["groups"], parameters=[GROUP_ID])
class GroupMembersView(GroupScopedListView):
    """A group's members in rotation (payout) order."""

    serializer_class = MembershipSerializer
    pagination_class = PagePagination
    filter_backends = []

    def rows(self, *, group_id: int):
        return group_members(group_id=group_id)


@extend_schema(tags=["users"], parameters=[ADDRESS], responses=UserSerializer)
class UserDetailView(APIView):
    """A wallet's totals across all groups."""

    def get(self, request, address: str):
        return Response(UserSerializer(_user_or_404(address)).data)


@extend_schema(tags=["users"], parameters=[ADDRESS])
class UserGroupsView(UserScopedListView):
    """The groups a wallet is in, with its seat in each, newest group first."""

    serializer_class = UserGroupSerializer
    pagination_class = PagePagination
    filter_backends = []

    def rows(self, *, user):
        return membership_list_for_user(user=user)
