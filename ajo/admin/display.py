"""How chain values look in the admin: amounts in token units beside the exact raw value,
checksummed and copyable addresses, explorer links for addresses and transactions, and links
between admin pages."""

import functools

from django.conf import settings
from django.contrib.admin.utils import quote
from django.urls import get_urlconf, reverse
from django.utils.html import format_html

from ajo.addresses import to_checksum


def format_units(amount: int | None, decimals: int | None, symbol: str = "") -> str:
    """`1250500000` with 6 decimals -> `1,250.5 USDC`; raw units when decimals are unknown."""
    if amount is None:
        return "-"
    if decimals is None:
        return f"{amount:,} {symbol or 'raw units'}".strip()
    # Integer arithmetic: Decimal's default context keeps 28 digits, and a total of uint256
    # amounts has up to 97.
    whole, fraction = divmod(amount, 10**decimals)
    digits = str(fraction).rjust(decimals, "0").rstrip("0") if decimals else ""
    text = f"{whole:,}" + (f".{digits}" if digits else "")
    return f"{text} {symbol}".strip()


def amount_html(amount: int | None, token=None):
    """Token units for reading, the exact integer underneath for checking."""
    if amount is None:
        return "-"
    decimals = token.decimals if token is not None else None
    symbol = token.symbol if token is not None else ""
    return format_html(
        '<span class="ajo-amount">{}</span><br><span class="ajo-raw" title="exact raw value">{}'
        "</span>",
        format_units(amount, decimals, symbol),
        str(amount),
    )


def copy_button(value: str):
    """A copy-to-clipboard button; admin.js copies `data-copy` (no inline script: CSP). Small
    on purpose: a page shows two of them per row."""
    return format_html(
        '<button type="button" class="ajo-copy" title="Copy" data-copy="{}">'
        '<span class="material-symbols-outlined md-18">content_copy</span></button>',
        value,
    )


def address_html(address: str | None):
    """Checksummed, with a copy button, linked to the explorer when EXPLORER_URL is set."""
    if not address:
        return "-"
    checksummed = to_checksum(address)
    if settings.EXPLORER_URL:
        shown = format_html(
            '<a href="{}/address/{}" target="_blank" rel="noopener" class="ajo-hex">{}</a>',
            settings.EXPLORER_URL,
            checksummed,
            checksummed,
        )
    else:
        shown = format_html('<span class="ajo-hex">{}</span>', checksummed)
    return format_html('<span class="ajo-nowrap">{}{}</span>', shown, copy_button(checksummed))


def tx_html(tx_hash: str | None):
    if not tx_hash:
        return "-"
    short = f"{tx_hash[:10]}…{tx_hash[-8:]}"
    if settings.EXPLORER_URL:
        shown = format_html(
            '<a href="{}/tx/{}" target="_blank" rel="noopener" class="ajo-hex">{}</a>',
            settings.EXPLORER_URL,
            tx_hash,
            short,
        )
    else:
        shown = format_html('<span class="ajo-hex">{}</span>', short)
    return format_html('<span class="ajo-nowrap">{}{}</span>', shown, copy_button(tx_hash))


@functools.lru_cache(maxsize=256)
def _change_url_parts(label: str, urlconf: str | None) -> tuple[str, str]:
    # The URL of object 0, split around the 0: a page of 25 rows links about 75 objects, and
    # reverse() for each cost a third of rendering the rows.
    url = reverse(f"admin:{label}_change", args=[0], urlconf=urlconf)
    head, _, tail = url.rpartition("/0/")
    return head + "/", "/" + tail


def admin_url(model, pk) -> str:
    meta = model._meta
    head, tail = _change_url_parts(f"{meta.app_label}_{meta.model_name}", get_urlconf())
    return f"{head}{quote(pk)}{tail}"


def changelist_url(model, **params) -> str:
    meta = model._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    if params:
        url += "?" + "&".join(f"{key}={value}" for key, value in params.items())
    return url


def admin_link(obj, label: str | None = None):
    """Link to the admin page of obj."""
    if obj is None:
        return "-"
    return format_html(
        '<a href="{}" class="ajo-rel">{}</a>',
        admin_url(type(obj), obj.pk),
        label or str(obj),
    )
