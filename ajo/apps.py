from django.apps import AppConfig


class AjoConfig(AppConfig):
    """The chain layer (ajo.engine) and its sync bookkeeping models."""

    name = "ajo"
    verbose_name = "Chain sync"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from ajo.db.sqlite import register_sqlite_functions

        connection_created.connect(register_sqlite_functions, dispatch_uid="ajo_sqlite_functions")
