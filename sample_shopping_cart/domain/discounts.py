"""The discount codes the shop offers. A code is applied to a cart as a percentage off its lines.

Kept as configuration rather than as an aggregate: codes change with a deployment, and the event a
cart records (``cart.discount_applied``) stores the percentage it got, so changing a code here
never changes a cart's past.
"""

from __future__ import annotations

from dataclasses import dataclass

from eventsourcing.sample_shopping_cart.domain.errors import UnknownDiscountCode


@dataclass(frozen=True, slots=True)
class DiscountCode:
    code: str
    percent: int


DISCOUNT_CODES: dict[str, DiscountCode] = {
    d.code: d for d in (DiscountCode("WELCOME10", 10), DiscountCode("SPRING25", 25), DiscountCode("STAFF50", 50))
}


def find_discount(code: str) -> DiscountCode:
    """The offer behind ``code`` (case-insensitive); `UnknownDiscountCode` if there is none."""
    found = DISCOUNT_CODES.get(code.strip().upper())
    if found is None:
        raise UnknownDiscountCode(f"{code!r} is not a discount code this shop offers")
    return found
