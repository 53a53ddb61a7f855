from django.apps import AppConfig
from django.db.backends.signals import connection_created

from ajo.contract.spec import ajo_savings
from ajo.db.sqlite import register_sqlite_functions
from ajo.engine import registry


class AjoConfig(AppConfig):
    """The chain layer (ajo.engine) and its sync bookkeeping models."""

    name = "ajo"
    verbose_name = "Chain sync"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        connection_created.connect(register_sqlite_functions, dispatch_uid="ajo_sqlite_functions")
        # The engine indexes the AjoSavings contract; the apps register what its events mean.
        registry.use_source(ajo_savings())
