"""The base of every list endpoint."""

from rest_framework import generics

from ajo.api.representation import columns


class ListView(generics.ListAPIView):
    """A list that loads only the columns its serializer shows (see `columns()`): views
    return their selector's rows, and this narrows them once, after the filters."""

    def filter_queryset(self, queryset):
        return super().filter_queryset(queryset).only(*columns(self.get_serializer_class()))
