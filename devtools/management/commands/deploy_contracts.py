"""manage.py deploy_contracts: deploy TestToken and AjoSavings to CHAIN_RPC_URL (dev chains)."""

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ajo.engine.rpc import RpcError, RpcUnavailable
from devtools.deploy import DeployError, deploy_contracts, write_env


class Command(BaseCommand):
    help = (
        "Deploy TestToken and AjoSavings to CHAIN_RPC_URL from the node's first unlocked "
        "account. The last stdout line is one JSON object: "
        '{"chain_id": N, "ajo": "0x…", "token": "0x…", "block": N}. '
        "--write-env FILE sets AJO_CONTRACT_ADDRESS, AJO_TOKEN_ADDRESS and AJO_START_BLOCK "
        "in FILE (other lines are kept)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--write-env",
            metavar="FILE",
            help="env file to update with the deployed addresses and start block",
        )
        parser.add_argument(
            "--rpc-url", default=None, help="JSON-RPC endpoint (default: settings.CHAIN_RPC_URL)"
        )

    def handle(self, *args, **options):
        rpc_url = options["rpc_url"] or settings.CHAIN_RPC_URL
        try:
            deployment = deploy_contracts(rpc_url=rpc_url)
        except (RpcUnavailable, RpcError, DeployError, ValueError) as exc:
            raise CommandError(f"deploy failed: {exc}") from None
        if options["write_env"]:
            try:
                write_env(options["write_env"], deployment)
            except OSError as exc:
                raise CommandError(f"cannot write {options['write_env']}: {exc.strerror}") from None
            self.stderr.write(f"updated {options['write_env']}")
        self.stdout.write(json.dumps(deployment.as_dict()))
