"""Serializer fields for chain values, typed in the OpenAPI schema.

uint256 amounts and their totals travel as decimal strings (JSON numbers lose digits above
2**53); addresses are accepted in any case (a mixed-case one must carry a valid checksum) and
shown checksummed.
"""

from functools import lru_cache

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ajo.addresses import InvalidAddress, normalize_address, to_checksum
from ajo.fields import TOTAL_WIDTH, parse_total, parse_uint256

UINT256_PATTERN = r"^[0-9]{1,78}$"
TOTAL_PATTERN = rf"^[0-9]{{1,{TOTAL_WIDTH}}}$"
ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"
TX_HASH_PATTERN = r"^0x[0-9a-fA-F]{64}$"

UINT256_SCHEMA = {
    "type": "string",
    "pattern": UINT256_PATTERN,
    "maxLength": 78,
    "description": "Unsigned 256-bit integer in raw token units, as a decimal string.",
    "example": "50000000",
}
TOTAL_SCHEMA = {
    "type": "string",
    "pattern": TOTAL_PATTERN,
    "maxLength": TOTAL_WIDTH,
    "description": "Sum of uint256 amounts in raw token units, as a decimal string: it can "
    "exceed 2**256-1 (it stays below 2**320).",
    "example": "150000000",
}
UINT64_SCHEMA = {
    "type": "string",
    "pattern": r"^[0-9]{1,20}$",
    "maxLength": 20,
    "description": "Unsigned 64-bit integer as a decimal string (JSON numbers lose digits "
    "above 2**53, and the contract allows up to 2**64-1).",
    "example": "604800",
}
ADDRESS_SCHEMA = {
    "type": "string",
    "pattern": ADDRESS_PATTERN,
    "description": "EVM address; EIP-55 checksummed in responses, any case accepted in input.",
    "example": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
}
TX_HASH_SCHEMA = {
    "type": "string",
    "pattern": TX_HASH_PATTERN,
    "example": "0x" + "ab" * 32,
}


# EIP-55 needs a keccak per address; the same few tokens and members recur on every page.
checksum = lru_cache(maxsize=65_536)(to_checksum)


@extend_schema_field(UINT256_SCHEMA)
class Uint256Field(serializers.Field):
    default_error_messages = {"invalid": "{message}"}

    def to_representation(self, value) -> str:
        return str(int(value))

    def to_internal_value(self, data) -> int:
        try:
            return parse_uint256(data)
        except ValueError as exc:
            self.fail("invalid", message=str(exc))


@extend_schema_field(TOTAL_SCHEMA)
class Uint256TotalField(Uint256Field):
    """A total of uint256 amounts (ajo.fields.Uint256TotalField): wider than one amount."""

    def to_internal_value(self, data) -> int:
        try:
            return parse_total(data)
        except ValueError as exc:
            self.fail("invalid", message=str(exc))


@extend_schema_field(UINT64_SCHEMA)
class Uint64Field(Uint256Field):
    """A uint64 of the contract (a group's frequency) or a chain id: a string, like amounts."""

    def to_internal_value(self, data) -> int:
        value = super().to_internal_value(data)
        if value >= 2**64:
            self.fail("invalid", message="must be below 2**64")
        return value


@extend_schema_field(ADDRESS_SCHEMA)
class AddressField(serializers.Field):
    default_error_messages = {"invalid": "{message}"}

    def to_representation(self, value: str) -> str:
        return checksum(value)

    def to_internal_value(self, data) -> str:
        try:
            return normalize_address(data)
        except InvalidAddress as exc:
            self.fail("invalid", message=str(exc))


@extend_schema_field(TX_HASH_SCHEMA)
class TxHashField(serializers.RegexField):
    def __init__(self, **kwargs):
        kwargs.setdefault(
            "error_messages", {"invalid": "must be 0x followed by 64 hexadecimal digits"}
        )
        super().__init__(TX_HASH_PATTERN, max_length=66, **kwargs)

    def to_internal_value(self, data) -> str:
        return super().to_internal_value(data).lower()
