"""Sync status and transaction ingest endpoints."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from ajo.api.cache import LIVE
from ajo.api.fields import AddressField, TxHashField, Uint64Field
from ajo.api.throttling import CacheTolerantScopedRateThrottle
from ajo.chainreads import api_rpc_client, chain_read_guard
from ajo.engine.ingest import ingest_transaction
from ajo.selectors import sync_status


class CacheStatsSerializer(serializers.Serializer):
    hits = serializers.IntegerField(allow_null=True, help_text="Group reads the database had.")
    misses = serializers.IntegerField(allow_null=True, help_text="Group reads from the chain.")
    hit_rate = serializers.FloatField(allow_null=True)
    available = serializers.BooleanField(help_text="False when the cache cannot be reached.")


class SyncFailureSerializer(serializers.Serializer):
    message = serializers.CharField(help_text="One line: the blocks, where they fail, the error.")
    block = serializers.IntegerField(
        help_text="First block that fails to apply (the window's first when not narrowed down)."
    )
    event = serializers.CharField(
        allow_null=True, help_text="Event kind that fails there, or `roll-up`."
    )
    since = serializers.DateTimeField()
    attempts = serializers.IntegerField()
    retry_at = serializers.DateTimeField(
        allow_null=True, help_text="Next attempt of `sync_chain --follow` (null: it stopped)."
    )


class SyncStatusSerializer(serializers.Serializer):
    chain_id = Uint64Field(
        allow_null=True, help_text="EIP-155 chain id (a string: it may pass 2**53)."
    )
    contract = AddressField(allow_null=True)
    head_block = serializers.IntegerField(
        allow_null=True, help_text="Latest block at the node (null if unreachable)."
    )
    head_time = serializers.DateTimeField(allow_null=True)
    head_error = serializers.CharField(allow_null=True, help_text="Why the head could not be read.")
    indexed_block = serializers.IntegerField(allow_null=True, help_text="Last block indexed.")
    indexed_block_time = serializers.DateTimeField(allow_null=True)
    lag_blocks = serializers.IntegerField(allow_null=True)
    lag_seconds = serializers.IntegerField(
        allow_null=True, help_text="Head block time minus indexed block time."
    )
    total_events = serializers.IntegerField()
    last_run_started_at = serializers.DateTimeField(allow_null=True)
    last_run_finished_at = serializers.DateTimeField(allow_null=True)
    last_run_events = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField(allow_null=True)
    failure = SyncFailureSerializer(
        allow_null=True,
        help_text="A window the sync cannot apply: nothing of it is written and the index stays "
        "at `indexed_block` until it commits. Null when nothing fails.",
    )
    reorg_count = serializers.IntegerField()
    last_reorg_at = serializers.DateTimeField(allow_null=True)
    cache = CacheStatsSerializer(help_text="Cache-first group reads since the cache was emptied.")


@extend_schema(tags=["status"], responses=SyncStatusSerializer)
class SyncStatusView(APIView):
    """How far the index is behind the chain, and the group read cache's hit rate."""

    cache_policy = LIVE  # the chain head and the cache counters are not in the index

    def get(self, request):
        return Response(SyncStatusSerializer(sync_status()).data)


class TransactionIngestRequestSerializer(serializers.Serializer):
    tx_hash = TxHashField(help_text="Hash of a mined transaction that called the contract.")


class TransactionIngestResultSerializer(serializers.Serializer):
    tx_hash = TxHashField()
    block_number = serializers.IntegerField()
    events = serializers.DictField(
        child=serializers.IntegerField(), help_text="Event name -> how many the tx carried."
    )
    applied = serializers.IntegerField(help_text="Rows written (0 when already indexed).")


@extend_schema(
    tags=["transactions"],
    request=TransactionIngestRequestSerializer,
    responses={200: TransactionIngestResultSerializer},
    examples=[
        OpenApiExample("a contribution", value={"tx_hash": "0x" + "ab" * 32}, request_only=True)
    ],
)
class TransactionIngestView(APIView):
    """Index one mined transaction now, without waiting for the sync (verified on chain)."""

    throttle_classes = [CacheTolerantScopedRateThrottle]
    throttle_scope = "ingest"
    error_codes = ["409", "415", "422", "429", "502", "503"]

    def post(self, request):
        serializer = TransactionIngestRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # The web request's client (a total deadline per call) and guard (no request to a node
        # that failed moments ago, no more than a few requests waiting on it).
        with chain_read_guard():
            result = ingest_transaction(
                tx_hash=serializer.validated_data["tx_hash"], client=api_rpc_client()
            )
        return Response(TransactionIngestResultSerializer(result).data)
