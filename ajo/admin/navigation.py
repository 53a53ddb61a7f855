"""The sidebar: every table the user may see, grouped, and under each table the saved views of
the user and their roles (one query per page; none for a partial update, which has no sidebar)."""

from django.urls import NoReverseMatch, reverse

from ajo.admin.base import is_fragment_request
from ajo.admin.savedviews import VIEW_PARAM, saved_view_list, saved_view_url

# (section, [(title, icon, app_label, model_name)]); Tools are pages of their own.
SECTIONS = [
    (
        "Chain data",
        [
            ("Groups", "groups", "groups", "group"),
            ("Memberships", "badge", "groups", "membership"),
            ("Contributions", "payments", "contributions", "contribution"),
            ("Payouts", "savings", "contributions", "payout"),
            ("Tokens", "toll", "groups", "token"),
        ],
    ),
    ("People", [("Users", "person", "groups", "user")]),
    (
        "Sync",
        [
            ("Sync state", "sync", "ajo", "syncstate"),
            ("Blocks", "view_in_ar", "ajo", "blockrecord"),
        ],
    ),
    (
        "Access",
        [
            ("Roles (groups)", "shield_person", "auth", "group"),
            ("Permissions", "key", "auth", "permission"),
            ("Login failures", "lock", "axes", "accessattempt"),
            ("Login log", "login", "axes", "accesslog"),
            ("Failed login log", "no_accounts", "axes", "accessfailurelog"),
        ],
    ),
]


def _has_perm(permission: str):
    return lambda request: request.user.has_perm(permission)


def sidebar(request) -> list[dict]:
    """unfold's SIDEBAR navigation for this request."""
    views: dict[tuple[str, str], list[dict]] = {}
    if request.user.is_authenticated and not is_fragment_request(request):
        current = request.GET.get(VIEW_PARAM)
        for view in saved_view_list(user=request.user):
            try:
                link = saved_view_url(view)
            except NoReverseMatch:  # a view of a table the admin no longer shows
                continue
            views.setdefault((view.app_label, view.model_name), []).append(
                {
                    "title": view.name + (f" · {view.role.name}" if view.role_id else ""),
                    "link": link,
                    "active": current == str(view.pk),
                    "saved_view": True,
                }
            )
    navigation = [
        {
            "title": "Chain data",
            "items": [{"title": "Dashboard", "icon": "home", "link": reverse("admin:index")}],
        }
    ]
    for section, tables in SECTIONS:
        items = []
        for title, icon, app_label, model_name in tables:
            items.append(
                {
                    "title": title,
                    "icon": icon,
                    "link": reverse(f"admin:{app_label}_{model_name}_changelist"),
                    "permission": _has_perm(f"{app_label}.view_{model_name}"),
                    "saved_views": views.get((app_label, model_name), []),
                }
            )
        if section == "Chain data":
            navigation[0]["items"] += items
        else:
            navigation.append({"title": section, "items": items})
    navigation.append(
        {
            "title": "Tools",
            "items": [
                {
                    "title": "Schema",
                    "icon": "schema",
                    "link": reverse("admin:ajo_schema"),
                    "permission": lambda request: request.user.is_staff,
                },
                {
                    "title": "SQL console",
                    "icon": "terminal",
                    "link": reverse("admin:ajo_sql_console"),
                    "permission": _has_perm("ajo.run_sql"),
                },
            ],
        }
    )
    return navigation
