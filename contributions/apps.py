from django.apps import AppConfig


class ContributionsConfig(AppConfig):
    """Contributions paid into rounds and the payouts that close them."""

    name = "contributions"
    verbose_name = "Contributions and payouts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Here, not at the top: handlers imports the models, which need the app registry
        # loaded. Importing it registers the app's handlers and hooks with the engine.
        from contributions import handlers  # noqa: F401
