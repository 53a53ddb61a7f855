"""Admin roles: `viewer` (read every ajo table, export CSV) and `operator` (also chain actions).

Permissions are created here rather than left to post_migrate so the roles are complete the
moment this migration has run, on a fresh database too.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

TABLES = [
    ("groups", "user"),
    ("groups", "token"),
    ("groups", "group"),
    ("groups", "membership"),
    ("contributions", "contribution"),
    ("contributions", "payout"),
    ("ajo", "syncstate"),
    ("ajo", "blockrecord"),
]
CUSTOM = [
    ("export_data", "Can export admin lists as CSV"),
    ("run_chain_actions", "Can refresh groups from and verify them against the chain"),
]
ROLES = {
    "viewer": [f"{app}.view_{model}" for app, model in TABLES] + ["groups.export_data"],
}
ROLES["operator"] = [*ROLES["viewer"], "groups.run_chain_actions"]


def create_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    AuthGroup = apps.get_model("auth", "Group")
    group_type, _ = ContentType.objects.get_or_create(app_label="groups", model="group")
    for codename, name in CUSTOM:
        Permission.objects.get_or_create(
            content_type=group_type, codename=codename, defaults={"name": name}
        )
    for role, perms in ROLES.items():
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".")
            wanted.append(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group, _ = AuthGroup.objects.get_or_create(name=role)
        group.permissions.set(wanted)


def drop_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLES)).delete()
    apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label="groups", codename__in=[c for c, _ in CUSTOM]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("groups", "0001_initial"),
        ("contributions", "0002_initial"),
        ("ajo", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, drop_roles)]
