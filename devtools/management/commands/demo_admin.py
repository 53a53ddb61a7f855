"""Create or reset the demo admin login: a staff user in the `operator` role."""

import secrets

from django.contrib.auth.models import Group as Role
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from groups.models import User


def demo_operator_reset(*, username: str, password: str) -> User:
    """Staff + operator, not superuser: the demo shows what an operator really can do."""
    role = Role.objects.filter(name="operator").first()
    if role is None:
        raise CommandError("The operator role is missing: run `manage.py migrate` first.")
    with transaction.atomic():
        user = User.objects.filter(username=username).first() or User(username=username)
        if user.address:
            raise CommandError(f"{username!r} is a wallet user; choose another --username.")
        user.is_staff = True
        user.is_active = True
        user.is_superuser = False
        user.set_password(password)
        user.save()
        user.groups.set([role])
    return user


class Command(BaseCommand):
    help = "Create (or reset) the demo operator login and print its username and password."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="operator")
        parser.add_argument("--password", help="default: a new random password")

    def handle(self, *args, username: str, password: str | None, **options):
        password = password or secrets.token_urlsafe(12)
        demo_operator_reset(username=username, password=password)
        self.stdout.write(f"admin login: username={username} password={password}")
