"""Money: `Decimal` amounts in whole cents, one currency. Views store cents as integers."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from sample_shopping_cart.domain.errors import InvalidPrice

CENT = Decimal("0.01")


def price(value: Decimal | str | int) -> Decimal:
    """A valid price: positive, in whole cents (``price("4.50")``); `InvalidPrice` otherwise."""
    amount = Decimal(value)
    if not amount.is_finite() or amount <= 0:
        raise InvalidPrice(f"a price must be a positive amount, not {value!r}")
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
