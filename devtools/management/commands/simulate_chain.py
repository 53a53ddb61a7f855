"""manage.py simulate_chain: real AjoSavings traffic on an anvil dev chain."""

import json
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ajo.engine.rpc import RpcError, RpcUnavailable
from devtools.simulate import SimulationError, run


class Command(BaseCommand):
    help = (
        "Send real transactions to the AjoSavings contract at AJO_CONTRACT_ADDRESS on "
        "CHAIN_RPC_URL (an anvil node: it uses automine control, impersonation and time "
        "travel). Creates N groups of M members; most are filled and run up to R rounds "
        "(completed when R >= M), about 10% stop mid-round (active) and 5% never fill "
        "(forming); about F of the contributions are paid after their round's deadline. "
        "Members are accounts derived from --seed; the same seed on the same starting chain "
        "gives the same logs. The token is --token, else AJO_TOKEN_ADDRESS (written by "
        "deploy_contracts --write-env); it must be a TestToken (mintMany). The last stdout "
        'line is JSON counts read from the mined logs: {"groups", "joins" (MemberJoined '
        'events, including each creator\'s own join at position 0), "contributions", '
        '"payouts", "completed", "late"}.'
    )

    def add_arguments(self, parser):
        parser.add_argument("--groups", type=int, required=True, help="groups to create")
        parser.add_argument("--members", type=int, required=True, help="members per group (>= 2)")
        parser.add_argument(
            "--rounds", type=int, required=True, help="rounds run at most by groups that fill"
        )
        parser.add_argument("--seed", type=int, default=0, help="seed for everything (default 0)")
        parser.add_argument(
            "--late-ratio",
            type=float,
            default=0.1,
            help="fraction of contributions paid after the deadline, 0..1 (default 0.1)",
        )
        parser.add_argument(
            "--token",
            default=None,
            help="TestToken address (default: settings.AJO_TOKEN_ADDRESS, from the environment)",
        )
        parser.add_argument(
            "--rpc-url", default=None, help="JSON-RPC endpoint (default: settings.CHAIN_RPC_URL)"
        )

    def handle(self, *args, **options):
        token = options["token"] or getattr(settings, "AJO_TOKEN_ADDRESS", "")
        verbose = options["verbosity"] >= 2
        started = time.monotonic()
        try:
            counts = run(
                rpc_url=options["rpc_url"] or settings.CHAIN_RPC_URL,
                ajo_address=settings.AJO_CONTRACT_ADDRESS,
                token_address=token,
                groups=options["groups"],
                members=options["members"],
                rounds=options["rounds"],
                seed=options["seed"],
                late_ratio=options["late_ratio"],
                log=(lambda message: self.stderr.write(message)) if verbose else lambda m: None,
            )
        except (SimulationError, RpcUnavailable, RpcError, ValueError) as exc:
            raise CommandError(f"simulation failed: {exc}") from None
        if options["verbosity"] >= 1:
            self.stderr.write(f"simulated in {time.monotonic() - started:.1f}s")
        self.stdout.write(json.dumps(counts.as_dict()))
