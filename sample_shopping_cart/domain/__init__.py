"""The shop's domain: carts and products, their events and their rules. Pure: no I/O.

Importing this package declares every event and aggregate class, which is what the CLI needs
(``eventsourcing replay --app eventsourcing.sample_shopping_cart.domain cart CART_ID``).
"""

from eventsourcing.sample_shopping_cart.domain.cart import CartStatus, ShoppingCart
from eventsourcing.sample_shopping_cart.domain.cart_events import (
    CartAbandoned,
    CartCheckedOut,
    CartLine,
    CartOpened,
    DiscountApplied,
    ItemAdded,
    ItemQuantityChanged,
    ItemRemoved,
)
from eventsourcing.sample_shopping_cart.domain.discounts import DISCOUNT_CODES, DiscountCode, find_discount
from eventsourcing.sample_shopping_cart.domain.errors import (
    CartAlreadyExists,
    CartClosed,
    CartFull,
    DiscountAlreadyApplied,
    EmptyCart,
    IdInUse,
    InvalidPrice,
    InvalidQuantity,
    ItemNotInCart,
    ProductAlreadyListed,
    ProductUnavailable,
    ShopError,
    UnknownDiscountCode,
    UnknownProduct,
)
from eventsourcing.sample_shopping_cart.domain.money import MAX_PRICE, cents, from_cents, price
from eventsourcing.sample_shopping_cart.domain.product import Product
from eventsourcing.sample_shopping_cart.domain.product_events import (
    ProductDiscontinued,
    ProductListed,
    ProductPriceChanged,
)

__all__ = [
    "DISCOUNT_CODES",
    "MAX_PRICE",
    "CartAbandoned",
    "CartAlreadyExists",
    "CartCheckedOut",
    "CartClosed",
    "CartFull",
    "CartLine",
    "CartOpened",
    "CartStatus",
    "DiscountAlreadyApplied",
    "DiscountApplied",
    "DiscountCode",
    "EmptyCart",
    "IdInUse",
    "InvalidPrice",
    "InvalidQuantity",
    "ItemAdded",
    "ItemNotInCart",
    "ItemQuantityChanged",
    "ItemRemoved",
    "Product",
    "ProductAlreadyListed",
    "ProductDiscontinued",
    "ProductListed",
    "ProductPriceChanged",
    "ProductUnavailable",
    "ShopError",
    "ShoppingCart",
    "UnknownDiscountCode",
    "UnknownProduct",
    "cents",
    "find_discount",
    "from_cents",
    "price",
]
