from django.apps import AppConfig


class ContributionsConfig(AppConfig):
    """Contributions paid into rounds and the payouts that close them."""

    name = "contributions"
    verbose_name = "Contributions and payouts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from contributions import handlers  # noqa: F401  (registers the chain-event handlers)
