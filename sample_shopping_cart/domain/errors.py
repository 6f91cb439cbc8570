"""The shop's rules, broken: one error per rule, each with a stable ``code`` for API clients.

    ShopError
    ├── CartClosed               the cart is checked out or abandoned: it cannot change any more
    ├── CartAlreadyExists        a cart with this id was opened before (by another command)
    ├── EmptyCart                an empty cart cannot be checked out
    ├── InvalidQuantity          quantities are whole numbers from 1 to MAX_QUANTITY
    ├── ItemNotInCart            removing or changing a line the cart does not have
    ├── DiscountAlreadyApplied   one discount code per cart
    ├── UnknownDiscountCode      a code the shop does not offer
    ├── UnknownProduct           no product was ever listed under this SKU
    ├── ProductUnavailable       the product is discontinued: it cannot be added to a cart
    ├── ProductAlreadyListed     a product with this SKU exists already
    ├── InvalidPrice             prices are positive amounts in whole cents, at most MAX_PRICE
    ├── CartFull                 a cart holds at most MAX_LINES lines
    └── IdInUse                  creating an aggregate under an id that another kind of aggregate has

These are the application's errors, not the framework's: they derive from `Exception`, and the
HTTP API turns each into a 4xx answer that names its ``code``.
"""

from __future__ import annotations

from typing import ClassVar


class ShopError(Exception):
    """A rule of the shop was broken; nothing was changed."""

    code: ClassVar[str] = "shop_error"


class CartClosed(ShopError):
    code = "cart_closed"


class CartAlreadyExists(ShopError):
    code = "cart_already_exists"


class EmptyCart(ShopError):
    code = "empty_cart"


class InvalidQuantity(ShopError):
    code = "invalid_quantity"


class ItemNotInCart(ShopError):
    code = "item_not_in_cart"


class DiscountAlreadyApplied(ShopError):
    code = "discount_already_applied"


class UnknownDiscountCode(ShopError):
    code = "unknown_discount_code"


class UnknownProduct(ShopError):
    code = "unknown_product"


class ProductUnavailable(ShopError):
    code = "product_unavailable"


class ProductAlreadyListed(ShopError):
    code = "product_already_listed"


class InvalidPrice(ShopError):
    code = "invalid_price"


class CartFull(ShopError):
    code = "cart_full"


class IdInUse(ShopError):
    code = "id_in_use"
