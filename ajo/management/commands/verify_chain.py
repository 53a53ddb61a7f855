"""manage.py verify_chain: compare the database with the contract's view functions and logs."""

from django.core.management.base import BaseCommand, CommandError

from ajo.contract.deployment import ContractNotConfigured
from ajo.engine.errors import SyncError
from ajo.engine.rpc import RpcError, RpcUnavailable
from ajo.engine.verify import verify_groups


class Command(BaseCommand):
    help = (
        "Compare every group (state, members, who paid each round, payouts) with the "
        "contract's view functions and its events with the contract's logs, as of the "
        "indexed block; list each difference and exit non-zero if there is any."
    )

    def add_arguments(self, parser):
        parser.add_argument("--group", type=int, action="append", help="only this group id")

    def handle(self, *args, **options):
        try:
            differences = verify_groups(group_ids=options["group"])
        except (SyncError, ContractNotConfigured) as exc:
            raise CommandError(str(exc)) from None
        except (RpcUnavailable, RpcError) as exc:
            raise CommandError(f"cannot read the chain: {exc}") from None
        for line in differences:
            self.stdout.write(line)
        if differences:
            raise CommandError(f"{len(differences)} difference(s) between the database and chain")
        self.stdout.write("database agrees with the chain")
