"""The `analyst` role: what `viewer` may do, plus the read-only SQL console (`ajo.run_sql`).

The console is its own permission so that no existing role gains it: viewers and operators
browse the tables; only someone given `analyst` (or the permission) runs SQL.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE = "analyst"
VIEWER_TABLES = [
    ("groups", "user"),
    ("groups", "token"),
    ("groups", "group"),
    ("groups", "membership"),
    ("contributions", "contribution"),
    ("contributions", "payout"),
    ("ajo", "syncstate"),
    ("ajo", "blockrecord"),
]
PERMISSIONS = [
    *(f"{app}.view_{model}" for app, model in VIEWER_TABLES),
    "groups.export_data",
    "ajo.run_sql",
]


def create_analyst_role(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Permission = apps.get_model("auth", "Permission")
    AuthGroup = apps.get_model("auth", "Group")
    wanted = []
    for perm in PERMISSIONS:
        app_label, codename = perm.split(".")
        wanted.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    role, _ = AuthGroup.objects.get_or_create(name=ROLE)
    role.permissions.set(wanted)


def drop_analyst_role(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=ROLE).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ajo", "0006_admin_saved_views_sql_runs"),
        ("groups", "0002_admin_roles"),
    ]

    operations = [migrations.RunPython(create_analyst_role, drop_analyst_role)]
