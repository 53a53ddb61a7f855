from django.apps import AppConfig


class GroupsConfig(AppConfig):
    """Users (keyed by wallet), tokens, savings groups and their memberships."""

    name = "groups"
    verbose_name = "Groups and members"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Here, not at the top: handlers imports the models, which need the app registry
        # loaded. Importing it registers the app's handlers and hooks with the engine.
        from groups import handlers  # noqa: F401
