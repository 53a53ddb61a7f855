"""Reads the contract's view functions and ERC-20 metadata with eth_call (batched).

Used by cache-first group reads, `verify_chain`, and sync when it first meets a token.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector

from ajo.contract import rules
from ajo.contract.decode import chain_text
from ajo.engine.rpc import RpcClient, RpcError, RpcUnavailable

_GROUP_TYPES = [
    "bytes",  # the name: decoded by chain_text, as the sync does
    "address",
    "address",
    "uint256",
    "uint64",
    "uint16",
    "uint16",
    "uint32",
    "uint64",
    "bool",
    "bool",
]


def _selector(signature: str) -> str:
    return "0x" + function_signature_to_4byte_selector(signature).hex()


GET_GROUP = _selector("getGroup(uint256)")
GET_MEMBERS = _selector("getMembers(uint256)")
GROUP_COUNT = _selector("groupCount()")
HAS_CONTRIBUTED = _selector("hasContributed(uint256,uint32,address)")
GROUP_NOT_FOUND = _selector("GroupNotFound(uint256)")
ERC20_SYMBOL = _selector("symbol()")
ERC20_NAME = _selector("name()")
ERC20_DECIMALS = _selector("decimals()")
ERC20_BALANCE_OF = _selector("balanceOf(address)")


@dataclass(frozen=True, slots=True)
class GroupView:
    """getGroup(groupId) as the contract reports it; addresses lowercase."""

    group_id: int
    name: str
    token: str
    creator: str
    contribution_amount: int
    frequency: int
    max_members: int
    member_count: int
    current_round: int
    start_time: int
    is_active: bool
    is_completed: bool

    @property
    def status(self) -> str:
        return rules.group_status_from_view(
            is_active=self.is_active, is_completed=self.is_completed
        )


@dataclass(frozen=True, slots=True)
class TokenMetadata:
    symbol: str
    name: str
    decimals: int | None


class GroupNotFound(Exception):
    pass


def _is_group_not_found(error: RpcError) -> bool:
    data = error.data
    if isinstance(data, dict):  # some nodes nest the revert data
        data = data.get("data")
    return isinstance(data, str) and data.startswith(GROUP_NOT_FOUND)


def _word(value: int) -> str:
    return encode(["uint256"], [value]).hex()


class ContractReader:
    """eth_call at one block: a number, a tag, or an EIP-1898 {"blockHash": …}, which makes
    every call of the reader see the same block even if the chain reorganises meanwhile."""

    def __init__(self, client: RpcClient, address: str, *, block: int | str | dict = "latest"):
        self.client = client
        self.address = address
        self.block = hex(block) if isinstance(block, int) else block

    def _call(self, data: str, to: str | None = None) -> tuple[str, list]:
        return ("eth_call", [{"to": to or self.address, "data": data}, self.block])

    def group_count(self) -> int:
        return int(self.client.call(*self._call(GROUP_COUNT)), 16)

    def get_group(self, group_id: int) -> GroupView | None:
        """The group as the contract sees it, or None when the contract has no such group."""
        return self.get_groups([group_id]).get(group_id)

    def get_groups(self, group_ids: Iterable[int]) -> dict[int, GroupView]:
        """getGroup for each id, batched; ids the contract does not have are left out."""
        return self._per_group(
            GET_GROUP,
            group_ids,
            lambda group_id, raw: _group_view(group_id, decode(_GROUP_TYPES, raw)),
        )

    def get_members(self, group_id: int) -> list[str]:
        return self.get_members_many([group_id]).get(group_id, [])

    def get_members_many(self, group_ids: Iterable[int]) -> dict[int, list[str]]:
        """getMembers for each id (lowercase addresses, rotation order), batched."""
        return self._per_group(
            GET_MEMBERS,
            group_ids,
            lambda _, raw: [address.lower() for address in decode(["address[]"], raw)[0]],
        )

    def _per_group(self, selector: str, group_ids: Iterable[int], parse, batch_size: int = 200):
        """Call a `(uint256 groupId)` view for many groups in batched requests."""
        ids = list(group_ids)
        found = {}
        for start in range(0, len(ids), batch_size):
            part = ids[start : start + batch_size]
            calls = [self._call(selector + _word(group_id)) for group_id in part]
            results = self.client.batch(calls, return_errors=True)
            for group_id, result in zip(part, results, strict=True):
                if isinstance(result, RpcError):
                    if _is_group_not_found(result):
                        continue
                    raise result
                found[group_id] = parse(group_id, bytes.fromhex(result[2:]))
        return found

    def has_contributed_many(
        self, checks: list[tuple[int, int, str]], *, batch_size: int = 500
    ) -> dict[tuple[int, int, str], bool]:
        """hasContributed(groupId, round, member) for each (group, round, member)."""
        answers: dict[tuple[int, int, str], bool] = {}
        for start in range(0, len(checks), batch_size):
            part = checks[start : start + batch_size]
            calls = [
                self._call(
                    HAS_CONTRIBUTED + encode(["uint256", "uint32", "address"], [g, r, m]).hex()
                )
                for g, r, m in part
            ]
            for check, result in zip(part, self.client.batch(calls), strict=True):
                answers[check] = int(result, 16) == 1
        return answers

    def token_balance(self, token: str, holder: str) -> int:
        data = ERC20_BALANCE_OF + encode(["address"], [holder]).hex()
        return int(self.client.call(*self._call(data, to=token)), 16)

    def token_metadata(self, token: str) -> TokenMetadata:
        """symbol, name and decimals; a token without them gets empty text / None (raw units)."""
        calls = [self._call(sel, to=token) for sel in (ERC20_SYMBOL, ERC20_NAME, ERC20_DECIMALS)]
        symbol, name, decimals = self.client.batch(calls, return_errors=True)
        return TokenMetadata(
            symbol=_decode_text(symbol),
            name=_decode_text(name),
            decimals=_decode_decimals(decimals),
        )


@dataclass(frozen=True, slots=True)
class GroupRead:
    """One group read through the view functions, and the block every call saw."""

    view: GroupView | None  # None: the contract has no such group at that block
    members: list[str]
    block_number: int | None  # None: the chain is shorter than the confirmations
    block_hash: str | None


def read_group_confirmed(
    client: RpcClient, address: str, group_id: int, *, confirmations: int
) -> GroupRead:
    """getGroup + getMembers at head - confirmations, as the sync would index it.

    One eth_blockNumber, one header for that height, then every eth_call by the header's
    hash (EIP-1898): both calls see one block, and a group only a newer block has is not
    found. Raises RpcUnavailable when the node does not have the block its head implies.
    """
    number = client.block_number() - confirmations
    if number < 0:
        return GroupRead(None, [], None, None)
    header = client.call("eth_getBlockByNumber", [hex(number), False])
    if not isinstance(header, dict) or not isinstance(header.get("hash"), str):
        raise RpcUnavailable(f"the node has no block {number} below its head: it is lagging")
    if int(header.get("number") or "0x0", 16) != number:
        raise RpcUnavailable(f"the node answered another block for block {number}")
    reader = ContractReader(client, address, block={"blockHash": header["hash"]})
    view = reader.get_group(group_id)
    members = reader.get_members(group_id) if view is not None else []
    return GroupRead(view, members, number, header["hash"])


def _group_view(group_id: int, values: tuple) -> GroupView:
    name, *rest = values
    return GroupView(group_id, chain_text(name), *rest)


def _decode_text(result) -> str:
    if isinstance(result, RpcError) or not isinstance(result, str) or len(result) < 66:
        return ""
    raw = bytes.fromhex(result[2:])
    try:
        (text,) = decode(["string"], raw)
    except Exception:  # some old tokens return bytes32 instead of string
        text = raw[:32].rstrip(b"\0").decode("utf-8", errors="replace")
    return "".join(ch for ch in text if ch.isprintable())[:32]


def _decode_decimals(result) -> int | None:
    if isinstance(result, RpcError) or not isinstance(result, str) or len(result) < 66:
        return None
    value = int(result[2:66], 16)
    return value if value <= 77 else None
