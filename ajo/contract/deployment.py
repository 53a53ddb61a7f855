"""Which AjoSavings deployment this installation serves: AJO_CONTRACT_ADDRESS, checked.

The one module of the contract package that reads Django settings.
"""

from django.conf import settings

from ajo.addresses import InvalidAddress, normalize_address


class ContractNotConfigured(Exception):
    """AJO_CONTRACT_ADDRESS is missing or not an address; the message says which, in one line."""


def contract_address() -> str:
    """The configured contract, lowercase. Raises ContractNotConfigured."""
    raw = settings.AJO_CONTRACT_ADDRESS
    if not raw:
        raise ContractNotConfigured(
            "AJO_CONTRACT_ADDRESS is not set: set it to the AjoSavings deployment "
            "(deploy_contracts --write-env .env does it for a local chain)"
        )
    try:
        return normalize_address(raw)
    except InvalidAddress as exc:
        raise ContractNotConfigured(f"AJO_CONTRACT_ADDRESS is invalid: {exc}") from None
