"""The API's one exception handler: every error is JSON `{"error": {code, message, details?}}`.

Domain errors (a bad address, an unreachable node, a transaction that cannot be ingested)
become 4xx/5xx with a message that says what was wrong; anything DRF already knows (validation,
404, 405, throttling) is reshaped into the same envelope. Unknown exceptions are left to Django
(logged, 500) — they are bugs, not bad input.
"""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ajo.addresses import InvalidAddress
from ajo.contract.deployment import ContractNotConfigured
from ajo.engine import ingest
from ajo.engine.errors import SyncError
from ajo.engine.rpc import RpcError, RpcUnavailable

logger = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """An APIException with an explicit code, for errors raised by the API's own views."""

    def __init__(self, message: str, *, code: str | None = None, status_code: int | None = None):
        super().__init__(detail=message, code=code or self.default_code)
        if status_code is not None:
            self.status_code = status_code


class ChainUnavailable(ApiError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "chain_unavailable"


# Domain exception -> (HTTP status, error code). Subclasses match their base's entry.
DOMAIN_ERRORS: list[tuple[type[Exception], int, str]] = [
    (InvalidAddress, status.HTTP_400_BAD_REQUEST, "invalid_address"),
    (ingest.InvalidTxHash, status.HTTP_400_BAD_REQUEST, "invalid"),
    (ingest.TxNotFound, status.HTTP_404_NOT_FOUND, "tx_not_found"),
    (ingest.TxPending, status.HTTP_409_CONFLICT, "tx_pending"),
    (ingest.NoContractLogs, status.HTTP_422_UNPROCESSABLE_ENTITY, "no_contract_logs"),
    (ingest.TxNotConfirmed, status.HTTP_409_CONFLICT, "tx_not_confirmed"),
    (ingest.TxBeforeStartBlock, status.HTTP_422_UNPROCESSABLE_ENTITY, "before_start_block"),
    (ingest.TxNotCanonical, status.HTTP_409_CONFLICT, "reorg_pending"),
    (ingest.BlockUnavailable, status.HTTP_503_SERVICE_UNAVAILABLE, "block_unavailable"),
    (ingest.ChainAnswerInvalid, status.HTTP_502_BAD_GATEWAY, "chain_error"),
    (RpcUnavailable, status.HTTP_503_SERVICE_UNAVAILABLE, "chain_unavailable"),
    (RpcError, status.HTTP_502_BAD_GATEWAY, "chain_error"),
    (ContractNotConfigured, status.HTTP_503_SERVICE_UNAVAILABLE, "chain_not_configured"),
    (SyncError, status.HTTP_503_SERVICE_UNAVAILABLE, "chain_not_configured"),
]


def _domain_to_api(exc: Exception) -> exceptions.APIException | None:
    for exc_type, status_code, code in DOMAIN_ERRORS:
        if isinstance(exc, exc_type):
            if status_code >= 500:
                logger.warning("API request failed on the chain side: %s", exc)
            return ApiError(str(exc), code=code, status_code=status_code)
    return None


def _first_code(codes) -> str:
    if isinstance(codes, str):
        return codes
    if isinstance(codes, dict):
        for value in codes.values():
            return _first_code(value)
    if isinstance(codes, list) and codes:
        return _first_code(codes[0])
    return "invalid"


def _flatten(detail, prefix: str = "") -> list[str]:
    """Human-readable lines from a DRF error detail: `field: message`."""
    if isinstance(detail, dict):
        lines = []
        for key, value in detail.items():
            name = "" if key in ("non_field_errors", "__all__") else str(key)
            lines += _flatten(value, f"{prefix}.{name}" if prefix and name else prefix or name)
        return lines
    if isinstance(detail, list):
        return [line for item in detail for line in _flatten(item, prefix)]
    text = str(detail)
    return [f"{prefix}: {text}" if prefix else text]


def error_body(code: str, message: str, details=None) -> dict:
    error = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


def exception_handler(exc, context):
    # Set on chain-read failures (ajo.chainreads.chain_read_guard): when to ask again.
    retry_after = getattr(exc, "retry_after", None)
    converted = _domain_to_api(exc)
    if converted is not None:
        exc = converted
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        body = error_body(
            _first_code(exc.get_codes()),
            "; ".join(_flatten(exc.detail)) or "invalid input",
            exc.detail if isinstance(exc.detail, dict) else None,
        )
    elif isinstance(exc, exceptions.APIException):
        body = error_body(_first_code(exc.get_codes()), "; ".join(_flatten(exc.detail)))
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            body["error"]["details"] = {"retry_after_seconds": int(exc.wait + 0.999)}
    else:
        body = error_body("error", "; ".join(_flatten(response.data)))
    headers = _headers(response)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
        body["error"]["details"] = {"retry_after_seconds": retry_after}
    return Response(body, status=response.status_code, headers=headers)


def _headers(response: Response) -> dict:
    return {
        name: response[name]
        for name in ("Retry-After", "Allow", "WWW-Authenticate")
        if name in response
    }
