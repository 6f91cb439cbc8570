"""Money: `Decimal` amounts in whole cents, one currency, bounded. Views store cents as 64-bit integers.

Prices are bounded (`MAX_PRICE`), as are a line's quantity and a cart's lines (`ShoppingCart`), so
every amount the shop computes, and every sum a view keeps, is exact: the largest cart total is
50 x 99 x 999,999.99 = 4.95e9 (4.95e11 cents), and a product's revenue in the popular-products view
reaches the 64-bit limit (9.2e18 cents) only after some 930 million checkouts of the largest line.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from eventsourcing.sample_shopping_cart.domain.errors import InvalidPrice

CENT = Decimal("0.01")
MAX_PRICE = Decimal("999999.99")
"""The largest unit price."""


def price(value: Decimal | str | int) -> Decimal:
    """A valid price: positive, at most `MAX_PRICE`, in whole cents (``price("4.50")``); `InvalidPrice` otherwise."""
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidPrice(f"a price is a decimal amount such as 4.50, not {value!r}") from None
    if not amount.is_finite() or not 0 < amount <= MAX_PRICE:
        raise InvalidPrice(f"a price must be a positive amount of at most {MAX_PRICE}, not {value!r}")
    if amount != amount.quantize(CENT):
        raise InvalidPrice(f"a price is in whole cents: {value!r} has more than two decimals")
    return amount.quantize(CENT)


def percent_of(amount: Decimal, percent: int) -> Decimal:
    """``percent`` % of ``amount``, rounded half up to the cent (the views compute the same in SQL)."""
    return (amount * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def cents(amount: Decimal) -> int:
    """An amount in integer cents, for SQL views (drivers take ints, not Decimals)."""
    return int((amount / CENT).to_integral_value())


def from_cents(value: int) -> Decimal:
    return (Decimal(value) * CENT).quantize(CENT)
