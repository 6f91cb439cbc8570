"""The shapes of what clients send, shared by the commands and the HTTP API's bodies and paths.

Identifiers (cart ids, SKUs, discount codes) end up in URLs, headers and every view,
so they are refused unless they are short and made of URL-safe characters (``cart-1``,
``2b1c...``, ``alice@example.com``): no control characters (NUL, CR, LF), no spaces, no ``/``, no
emoji, nothing a header or a path could not carry as it is. Free text (a customer, a product's
name, an abandon reason) may be any Unicode text but control characters and lone surrogates, which some
databases (PostgreSQL: NUL) and every HTTP header refuse. Prices are bounded (`MAX_PRICE`), so
every total a cart or a view computes stays exact. All of it is checked before anything is stored.
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from eventsourcing.sample_shopping_cart.domain import MAX_PRICE

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._~:@-]*$"
MAX_ID = 100
MAX_TEXT = 200
MAX_VERSION = 2**53
"""The largest version a client may name (larger is refused as malformed, not looked up)."""

_REFUSED = {"Cc", "Cs"}  # control characters (NUL, CR, LF, TAB, DEL, ...) and lone surrogates


def _printable(text: str) -> str:
    for ch in text:
        if unicodedata.category(ch) in _REFUSED:
            raise ValueError(f"control character U+{ord(ch):04X} is not allowed")
    return text


Id = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_ID, pattern=ID_PATTERN),
    Field(description="Letters, digits and . _ ~ : @ - (starting with a letter or digit), at most 100"),
]
Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT),
    AfterValidator(_printable),
]
Price = Annotated[
    Decimal,
    Field(gt=0, le=MAX_PRICE, allow_inf_nan=False, description=f"In whole cents, at most {MAX_PRICE}"),
]
