from django.apps import AppConfig


class AjoConfig(AppConfig):
    """The chain layer (ajo.chain) and its sync bookkeeping models."""

    name = "ajo"
    verbose_name = "Chain sync"
    default_auto_field = "django.db.models.BigAutoField"
