import pytest

from ajo.addresses import InvalidAddress, normalize_address, to_checksum

CHECKSUMMED = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def test_accepts_every_case_and_stores_lowercase():
    lower = CHECKSUMMED.lower()
    assert normalize_address(CHECKSUMMED) == lower
    assert normalize_address(lower) == lower
    assert normalize_address("0x" + CHECKSUMMED[2:].upper()) == lower
    assert normalize_address(f"  {lower} ") == lower


def test_shows_checksummed():
    assert to_checksum(CHECKSUMMED.lower()) == CHECKSUMMED
    assert to_checksum(None) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0x1234", "40 hex digits"),
        (CHECKSUMMED + "00", "40 hex digits"),
        ("0x" + "g" * 40, "not hex"),
        ("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "start with 0x"),
        (CHECKSUMMED[:-1] + "D", "checksum"),
        (12, "string"),
    ],
)
def test_rejects_with_a_message_saying_why(value, message):
    with pytest.raises(InvalidAddress, match=message):
        normalize_address(value)
