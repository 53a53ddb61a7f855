"""Admin for the admin's own records: saved views (to tidy them up) and the SQL console's runs
(who read what, when, and what was refused). Both read-only here; views are saved from lists."""

from django.contrib import admin
from django.utils.html import format_html

from ajo.admin.base import BrowserAdmin
from ajo.admin.savedviews import saved_view_url
from ajo.models import SavedView, SqlRun


@admin.register(SavedView)
class SavedViewAdmin(BrowserAdmin):
    list_display = ["id", "name", "table", "owner", "role", "opened", "updated_at"]
    ordering = ["-id"]
    sortable_by = ["id"]
    list_select_related = ["owner", "role"]
    search_fields = ["name"]
    search_map = {"text": ["name__icontains"], "number": ["id"]}
    search_help_text = "View name"

    @admin.display(description="table")
    def table(self, obj):
        return f"{obj.app_label}.{obj.model_name}"

    @admin.display(description="open")
    def opened(self, obj):
        return format_html('<a href="{}" class="ajo-rel">open →</a>', saved_view_url(obj))

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(SqlRun)
class SqlRunAdmin(BrowserAdmin):
    list_display = ["id", "user", "started_at", "database", "statement", "row_count", "error"]
    ordering = ["-id"]
    sortable_by = ["id"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    search_map = {"text": ["user__username"], "number": ["id"]}
    search_help_text = "Username (exact) or run id"

    @admin.display(description="statement")
    def statement(self, obj):
        return obj.sql[:120]
