"""Filters for the group lists: by status, token, member, creator; search by name; ordering."""

import django_filters

from ajo.api.filters import AddressFilter, FilterSet, SearchFilter
from groups.models import Group


class GroupFilter(FilterSet):
    status = django_filters.ChoiceFilter(choices=Group.Status.choices)
    token = AddressFilter(field_name="token__address", help_text="Token address.")
    creator = AddressFilter(field_name="creator__address", help_text="Creator's address.")
    member = AddressFilter(method="filter_member", help_text="Groups this address is in.")
    search = SearchFilter(field_name="name", lookup_expr="icontains", help_text="Part of the name.")
    ordering = django_filters.OrderingFilter(
        fields=(
            ("id", "id"),
            ("name", "name"),
            ("created_block", "created_block"),
            ("member_count", "member_count"),
            ("next_deadline", "next_deadline"),
            ("contribution_count", "contribution_count"),
        ),
        help_text="Sort key; prefix with - for descending. Default: newest (-id).",
    )

    class Meta:
        model = Group
        fields = ["status", "token", "creator", "member", "search"]

    def filter_member(self, queryset, name, value):
        return queryset.filter(memberships__user__address=value)

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        ordering = self.form.cleaned_data.get("ordering")
        if ordering:  # a stable order across pages: id breaks ties
            return queryset.order_by(*ordering, "-id")
        return queryset
