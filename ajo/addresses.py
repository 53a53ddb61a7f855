"""The one place addresses are validated and normalised: lowercase stored, checksummed shown."""

import re

from eth_utils import to_checksum_address

_HEX40 = re.compile(r"^[0-9a-fA-F]{40}$")


class InvalidAddress(ValueError):
    """Raised with a message that says what is wrong with the address."""


def normalize_address(value: object) -> str:
    """Return the lowercase 0x form of an address given in any case.

    A mixed-case address must carry a valid EIP-55 checksum: a typo in a checksummed
    address is caught instead of silently pointing somewhere else.
    """
    if not isinstance(value, str):
        raise InvalidAddress("address must be a string")
    text = value.strip()
    if not text.lower().startswith("0x"):
        raise InvalidAddress(f"address must start with 0x: {text[:50]!r}")
    digits = text[2:]
    if len(digits) != 40:
        raise InvalidAddress(
            f"address must have 40 hex digits after 0x, got {len(digits)}: {text[:50]!r}"
        )
    if not _HEX40.match(digits):
        raise InvalidAddress(f"address has characters that are not hex: {text!r}")
    lower = "0x" + digits.lower()
    is_mixed = digits != digits.lower() and digits != digits.upper()
    if is_mixed and to_checksum_address(lower) != "0x" + digits:
        raise InvalidAddress(f"address has a wrong EIP-55 checksum (mixed case): {text!r}")
    return lower


def to_checksum(value: str | None) -> str | None:
    """Checksummed display form of a stored (lowercase) address; None stays None."""
    if value is None or value == "":
        return value
    return to_checksum_address(value)
