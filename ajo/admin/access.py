"""Admin for access: the roles (Django auth groups) and the permissions they hold, under
"Access" in the sidebar."""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.models import Group as Role
from django.contrib.auth.models import Permission
from unfold.admin import ModelAdmin

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
