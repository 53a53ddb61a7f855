from django.apps import AppConfig


class ContributionsConfig(AppConfig):
    """Contributions paid into rounds and the payouts that close them."""

    name = "contributions"
    verbose_name = "Contributions and payouts"
    default_auto_field = "django.db.models.BigAutoField"
