"""Saved views: a list's query string (conditions, filters, search, sort, columns) under a name,
for its author or for a role they hold; listed in the sidebar under their table."""

from urllib.parse import parse_qsl, urlencode

from django.contrib import admin, messages
from django.contrib.auth.models import Group as Role
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.db.models import Q, QuerySet
from django.http import HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_POST

from ajo.models import SavedView

VIEW_PARAM = "view"
# What a view never keeps: the page number and which view it was opened from.
NOT_SAVED = {"p", VIEW_PARAM, "e"}


def saved_view_list(*, user) -> QuerySet[SavedView]:
    """The views a user sees: their own and those of their roles (one query)."""
    return SavedView.objects.filter(Q(owner=user) | Q(role__in=user.groups.all())).select_related(
        "role"
    )


def saved_view_query(query: str) -> str:
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in NOT_SAVED]
    return urlencode(pairs)


def saved_view_url(view: SavedView) -> str:
    url = reverse(f"admin:{view.app_label}_{view.model_name}_changelist")
    query = urlencode([*parse_qsl(view.query, keep_blank_values=True), (VIEW_PARAM, view.pk)])
    return f"{url}?{query}"


def may_delete(*, user, view: SavedView) -> bool:
    return user.is_superuser or view.owner_id == user.pk or view.created_by_id == user.pk


def saved_view_save(
    *, user, app_label: str, model_name: str, name: str, query: str, role: Role | None
) -> SavedView:
    """Create the view, or replace the one of the same name and scope."""
    scope = {"role": role, "owner": None} if role is not None else {"owner": user, "role": None}
    view, _ = SavedView.objects.update_or_create(
        app_label=app_label,
        model_name=model_name,
        name=name,
        **scope,
        defaults={"query": saved_view_query(query), "created_by": user},
    )
    return view


def roles_for(user) -> QuerySet[Role]:
    return Role.objects.all() if user.is_superuser else user.groups.all()


# --- views (mounted under the admin, ajo.admin.urls) ---------------------------------------------


@require_POST
def save_view(request, app_label: str, model_name: str):
    model_admin = next(
        (
            ma
            for model, ma in admin.site._registry.items()
            if model._meta.app_label == app_label and model._meta.model_name == model_name
        ),
        None,
    )
    if model_admin is None or not model_admin.has_view_permission(request):
        raise PermissionDenied
    name = request.POST.get("name", "").strip()
    if not name or len(name) > 80:
        return HttpResponseBadRequest("A view needs a name of 1 to 80 characters.")
    role = None
    scope = request.POST.get("scope", "me")
    if scope.startswith("role:"):
        role_id = scope.removeprefix("role:")
        role = roles_for(request.user).filter(pk=role_id if role_id.isdigit() else 0).first()
        if role is None:
            raise PermissionDenied("You can share a view only with a role you hold.")
    try:
        view = saved_view_save(
            user=request.user,
            app_label=app_label,
            model_name=model_name,
            name=name,
            query=request.POST.get("query", ""),
            role=role,
        )
    except IntegrityError:
        return HttpResponseBadRequest("A view of that name exists already.")
    messages.success(request, f"Saved the view “{view.name}”.")
    return HttpResponseRedirect(saved_view_url(view))


@require_POST
def delete_view(request, pk: int):
    view = get_object_or_404(SavedView, pk=pk)
    if not may_delete(user=request.user, view=view):
        raise PermissionDenied
    url = reverse(f"admin:{view.app_label}_{view.model_name}_changelist")
    name = view.name
    view.delete()
    messages.success(request, f"Deleted the view “{name}”.")
    return HttpResponseRedirect(url)
