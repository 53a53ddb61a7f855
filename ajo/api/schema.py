"""OpenAPI generation: every operation documents the error envelope for its 4xx/5xx answers."""

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable reason, e.g. `invalid_address`.")
    message = serializers.CharField(help_text="What was wrong, in words.")
    details = serializers.DictField(
        required=False,
        help_text="For validation errors: messages per parameter or field.",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


ERROR_DESCRIPTIONS = {
    "400": "Invalid input (path, query or body); the message says which and why.",
    "404": "Not found.",
    "405": "Method not allowed.",
    "409": "The transaction is not mined yet.",
    "422": "The transaction holds no events of the contract.",
    "429": "Too many requests; retry after the time given.",
    "502": "The chain node answered with an error.",
    "503": "The chain node (or the chain configuration) is unavailable.",
}


class ApiAutoSchema(AutoSchema):
    """Adds the error responses an operation can give, so clients and schema checks see them.

    Views list extra codes in `error_codes` (GET answers may always be 400/404/405).
    """

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = ["400", "404", "405", *getattr(self.view, "error_codes", [])]
        for code in codes:
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                response["description"] = ERROR_DESCRIPTIONS[code]
                responses[code] = response
        return responses
