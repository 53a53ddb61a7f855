"""Admin for access: the roles (Django auth groups) and the permissions they hold, and
django-axes' login records, under "Access" in the sidebar.

axes registers its own tables with a stock ModelAdmin (AXES_ENABLE_ADMIN is off in settings):
that pages with a full COUNT(*), a date hierarchy that scans the whole table and LIKE searches
over four columns. The login logs grow with every login, so here they are browsed like every
other growing table: newest first by id, counted at most to 10,000 and estimated beyond, and
searched exactly by address or username (both indexed).
"""

from axes.models import AccessAttempt, AccessAttemptExpiration, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.models import Group as Role
from django.contrib.auth.models import Permission
from unfold.admin import ModelAdmin

from ajo.admin.base import BrowserAdmin

admin.site.unregister(Role)


@admin.register(Role)
class RoleAdmin(BaseGroupAdmin, ModelAdmin):
    pass


@admin.register(Permission)
class PermissionAdmin(ModelAdmin):
    list_display = ["name", "content_type", "codename"]
    list_filter = ["content_type__app_label"]
    search_fields = ["codename", "name"]
    list_select_related = ["content_type"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class LoginRecordAdmin(BrowserAdmin):
    ordering = ["-id"]
    sortable_by = ["id"]
    search_fields = ["username"]
    search_map = {"ip": ["ip_address"], "text": ["username"], "address": ["username"]}
    search_help_text = "Client IP address or username (exact)"


@admin.register(AccessAttempt)
class AccessAttemptAdmin(LoginRecordAdmin):
    list_display = ["id", "attempt_time", "ip_address", "username", "failures_since_start"]
    list_filter = ["path_info"]


@admin.register(AccessLog)
class AccessLogAdmin(LoginRecordAdmin):
    list_display = ["id", "attempt_time", "logout_time", "ip_address", "username", "path_info"]


@admin.register(AccessFailureLog)
class AccessFailureLogAdmin(LoginRecordAdmin):
    list_display = ["id", "attempt_time", "ip_address", "username", "locked_out"]


@admin.register(AccessAttemptExpiration)
class AccessAttemptExpirationAdmin(BrowserAdmin):
    list_display = ["access_attempt", "expires_at"]
    ordering = ["-pk"]
    sortable_by = []
