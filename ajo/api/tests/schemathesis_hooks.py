"""The one rule of the API that its OpenAPI schema cannot state, set aside by name for
`schemathesis run` (schemathesis.toml names this module): EIP-55.

An address parameter is `^0x[0-9a-fA-F]{40}$` in the schema, and the API accepts it in any
case, but a mixed-case one must carry a valid EIP-55 checksum (a keccak of the address: a
typo in a checksummed address is refused instead of silently naming another wallet). No
regular expression says which mixed-case spellings are checksums. So a generated address
in mixed case with a wrong checksum is sent lowercased, the same address without a checksum
to get wrong; nothing else is changed, and the other checks see every other value as
generated.
"""

import re

import schemathesis

from ajo.addresses import to_checksum

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def _without_a_wrong_checksum(value):
    if isinstance(value, str) and _ADDRESS.fullmatch(value):
        digits = value[2:]
        mixed = digits != digits.lower() and digits != digits.upper()
        if mixed and to_checksum(value.lower()) != value:
            return value.lower()
    return value


def _map(values):
    if not values:
        return values
    return {name: _without_a_wrong_checksum(value) for name, value in values.items()}


@schemathesis.hook
def map_query(context, query):
    return _map(query)


@schemathesis.hook
def map_path_parameters(context, path_parameters):
    return _map(path_parameters)
