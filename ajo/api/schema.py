"""OpenAPI generation: the schema says what the API enforces, so a client generated from it
and a fuzzer checking it (schemathesis, with the project's schemathesis.toml) agree with it.

Every operation documents the error envelope for each 4xx/5xx it can answer; every GET its
`min_block` and `If-None-Match` parameters, its 304 and 409, and the headers of its answers
(`X-Indexed-Block` on all of them, `ETag` and `Cache-Control` on 200s: ajo/api/cache.py).
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from ajo.api.cache import INDEXED_BLOCK_HEADER, MIN_BLOCK_PARAM

MAX_BLOCK = 2**63 - 1


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable reason, e.g. `invalid_address`.")
    message = serializers.CharField(help_text="What was wrong, in words.")
    details = serializers.DictField(
        required=False,
        help_text="For validation errors: messages per parameter or field; for `index_behind` "
        "(409 to `min_block`): `indexed_block` and `min_block`; for 429 and 503: "
        "`retry_after_seconds`.",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


ERROR_DESCRIPTIONS = {
    "400": "Invalid input (path, query or body); the message says which and why.",
    "404": "Not found (a group, an address with no activity, a page or a cursor that is not "
    "one the API issued).",
    "405": "Method not allowed.",
    "406": "Only JSON is served (`Accept: application/json`).",
    "409": "Not yet: the index has not reached `min_block` (`index_behind`, with the indexed "
    "block), or for a transaction: not mined yet, not confirmed, or in a block the chain or "
    "the index is reorganising.",
    "414": "The URL is longer than the server takes (8,190 bytes: gunicorn.conf.py).",
    "415": "The body is not JSON.",
    "422": "The transaction holds no events of the contract, or is below the start block.",
    "429": "Too many requests; retry after the time given.",
    "502": "The chain node answered with an error.",
    "503": "The chain node (or the chain configuration) is unavailable.",
}
GET_ERRORS = ("400", "404", "405", "406", "409", "414")

_BLOCK_HEADER_SCHEMA = {
    "type": "integer",
    "minimum": -1,
    "maximum": MAX_BLOCK,
    "description": "The block the answer is exact as of: the last block indexed (the start "
    "block - 1 before the first). Pass it as `min_block` to read at least this far.",
}


def _header(schema: dict, description: str, *, required: bool) -> dict:
    return {"schema": schema, "description": description, "required": required}


class ApiAutoSchema(AutoSchema):
    """Adds the error responses an operation can give, so clients and schema checks see them.

    Views list extra codes in `error_codes` (GET answers may always be 400/404/405/406/409).
    """

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self.method == "GET":
            parameters += [
                OpenApiParameter(
                    MIN_BLOCK_PARAM,
                    {"type": "integer", "minimum": 0, "maximum": MAX_BLOCK},
                    OpenApiParameter.QUERY,
                    description="Read your writes: answer only once the index has reached this "
                    "block (the `block_number` of a transaction, or an earlier answer's "
                    "`X-Indexed-Block`), waiting a few seconds at most; else 409.",
                ),
                OpenApiParameter(
                    "If-None-Match",
                    str,
                    OpenApiParameter.HEADER,
                    description="The `ETag` of an earlier answer: 304 while it is still "
                    "the answer.",
                ),
            ]
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = [*GET_ERRORS] if self.method == "GET" else ["400", "404", "405"]
        codes += [code for code in getattr(self.view, "error_codes", []) if code not in codes]
        for code in codes:
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                response["description"] = ERROR_DESCRIPTIONS[code]
                responses[code] = response
        if self.method == "GET":
            responses["304"] = {
                "description": "Not modified: the `ETag` sent in `If-None-Match` still names "
                "this answer.",
                "headers": self._get_response_headers_for_code("304", direction),
            }
        return dict(sorted(responses.items()))

    def _get_response_headers_for_code(self, status_code, direction="response"):
        headers = dict(super()._get_response_headers_for_code(status_code, direction))
        headers[INDEXED_BLOCK_HEADER] = _header(
            _BLOCK_HEADER_SCHEMA,
            _BLOCK_HEADER_SCHEMA["description"],
            # Errors made before the app (by gunicorn, for a malformed request) lack it.
            required=status_code in ("200", "304"),
        )
        if self.method == "GET" and status_code in ("200", "304"):
            headers["ETag"] = _header(
                {"type": "string"},
                "Names this answer: send it as `If-None-Match` to get a 304 while it holds.",
                required=True,
            )
            headers["Cache-Control"] = _header(
                {"type": "string"},
                "`public, no-cache` (store, revalidate every time) for answers of the index, "
                "`no-cache` for live ones (the sync status).",
                required=True,
            )
        return headers


def postprocess(result, generator, request, public):
    """An array parameter (a comma-separated list, such as `ordering`) has at least one item:
    an empty value is refused like any other empty parameter (ajo.api.filters)."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if schema.get("type") == "array":
                    schema.setdefault("minItems", 1)
    return result
