from django.apps import AppConfig


class GroupsConfig(AppConfig):
    """Users (keyed by wallet), tokens, savings groups and their memberships."""

    name = "groups"
    verbose_name = "Groups and members"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from groups import handlers  # noqa: F401  (registers the chain-event handlers)
