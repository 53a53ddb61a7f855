"""manage.py verify_chain: compare the database with the contract's view functions and logs
(or, with --database-only, check what the database must hold without a node)."""

from django.core.management.base import BaseCommand, CommandError

from ajo.contract.deployment import ContractNotConfigured
from ajo.engine.errors import SyncError
from ajo.engine.rpc import RpcError, RpcUnavailable
from ajo.engine.verify import verify, verify_database


class Command(BaseCommand):
    help = (
        "Compare every group (state, members, who paid each round, payouts) with the "
        "contract's view functions and its events with the contract's logs, as of the "
        "indexed block; list each difference and exit non-zero if there is any."
    )

    def add_arguments(self, parser):
        parser.add_argument("--group", type=int, action="append", help="only this group id")
        parser.add_argument(
            "--database-only",
            action="store_true",
            help="only what the database must hold whatever the chain says (totals equal "
            "the sums of their rows, references, group state from its counters); no node",
        )

    def handle(self, *args, **options):
        if options["database_only"] and options["group"]:
            raise CommandError("--database-only checks the whole database: drop --group")
        try:
            if options["database_only"]:
                differences = verify_database()
            else:
                differences = verify(scope=options["group"])
        except (SyncError, ContractNotConfigured) as exc:
            raise CommandError(str(exc)) from None
        except (RpcUnavailable, RpcError) as exc:
            raise CommandError(f"cannot read the chain: {exc}") from None
        for line in differences:
            self.stdout.write(line)
        if options["database_only"]:
            if differences:
                raise CommandError(f"{len(differences)} difference(s) in the database")
            self.stdout.write("the database holds its invariants")
            return
        if differences:
            raise CommandError(f"{len(differences)} difference(s) between the database and chain")
        self.stdout.write("database agrees with the chain")
