"""The admin, all of it: a data browser over the chain's copy.

Django's autodiscover imports this package; importing the registration modules here registers
every table. `base`, `display`, `paging`, `search`, `export`, `results` and `conditions` are
what the tables share, `dashboard` is the home page; `schema`, `console` and `savedviews` are
the pages and forms mounted below beside the tables (unfold's `extra_urls` hook).
"""

from django.contrib import admin
from django.urls import path

from ajo.admin import access, contributions, groups, records, sync  # noqa: F401
from ajo.admin.console import console_view
from ajo.admin.savedviews import delete_view, save_view
from ajo.admin.schema import schema_view


def extra_urls():
    site = admin.site
    return [
        path("schema/", site.admin_view(schema_view), name="ajo_schema"),
        path("sql/", site.admin_view(console_view), name="ajo_sql_console"),
        path(
            "views/<str:app_label>/<str:model_name>/save/",
            site.admin_view(save_view),
            name="ajo_saved_view_save",
        ),
        path("views/<int:pk>/delete/", site.admin_view(delete_view), name="ajo_saved_view_delete"),
    ]


admin.site.extra_urls = extra_urls
