"""How chain values look in the admin: checksummed addresses, explorer links, token units."""

from decimal import Decimal

from django.conf import settings
from django.urls import reverse
from django.utils.html import format_html

from ajo.addresses import to_checksum


def format_units(amount: int | None, decimals: int | None, symbol: str = "") -> str:
    """`1250500000` with 6 decimals -> `1,250.5 USDC`; raw units when decimals are unknown."""
    if amount is None:
        return "-"
    if decimals is None:
        return f"{amount:,} {symbol or 'raw units'}".strip()
    value = Decimal(amount).scaleb(-decimals)
    whole, _, fraction = f"{value:f}".partition(".")
    fraction = fraction.rstrip("0")
    text = f"{int(whole):,}" + (f".{fraction}" if fraction else "")
    return f"{text} {symbol}".strip()


def address_html(address: str | None):
    if not address:
        return "-"
    checksummed = to_checksum(address)
    if settings.EXPLORER_URL:
        return format_html(
            '<a href="{}/address/{}" target="_blank" rel="noopener" class="font-mono">{}</a>',
            settings.EXPLORER_URL,
            checksummed,
            checksummed,
        )
    return format_html('<span class="font-mono">{}</span>', checksummed)


def tx_html(tx_hash: str | None):
    if not tx_hash:
        return "-"
    short = f"{tx_hash[:10]}…{tx_hash[-8:]}"
    if settings.EXPLORER_URL:
        return format_html(
            '<a href="{}/tx/{}" target="_blank" rel="noopener" class="font-mono" title="{}">{}</a>',
            settings.EXPLORER_URL,
            tx_hash,
            tx_hash,
            short,
        )
    return format_html('<span class="font-mono" title="{}">{}</span>', tx_hash, short)


def admin_link(obj, label: str | None = None):
    """Link to the admin change page of obj."""
    if obj is None:
        return "-"
    meta = obj._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label or str(obj))
