"""`Product`: an item of the catalog, identified by its SKU, whose price changes over time.

Carts do not hold a reference to the product's current price: adding an item records the price
offered at that moment (``cart.item_added``), so a later price change never alters a cart's past,
and time travel on a product (``repo.get(sku, as_of=...)``) answers "what did it cost then?".
"""

from __future__ import annotations

from decimal import Decimal

from eventsourcing import Aggregate, on
from eventsourcing.sample_shopping_cart.domain.errors import ProductUnavailable
from eventsourcing.sample_shopping_cart.domain.money import price
from eventsourcing.sample_shopping_cart.domain.product_events import (
    ProductDiscontinued,
    ProductListed,
    ProductPriceChanged,
)


class Product(Aggregate):
    type_name = "product"

    name: str = ""
    price: Decimal = Decimal("0.00")
    active: bool = True

    @property
    def sku(self) -> str:
        return self.id

    @classmethod
    def list(cls, sku: str, name: str, unit_price: Decimal) -> Product:
        product = cls(sku)
        product.emit(ProductListed(name=name, price=price(unit_price)))
        return product

    def change_price(self, new_price: Decimal) -> None:
        self._require_active()
        new_price = price(new_price)
        if new_price != self.price:
            self.emit(ProductPriceChanged(old_price=self.price, new_price=new_price))

    def discontinue(self) -> None:
        if self.active:
            self.emit(ProductDiscontinued())

    def offer(self) -> tuple[str, Decimal]:
        """The name and the price a cart gets the product at now; `ProductUnavailable` if discontinued."""
        self._require_active()
        return self.name, self.price

    def _require_active(self) -> None:
        if not self.active:
            raise ProductUnavailable(f"product {self.sku!r} ({self.name}) is discontinued")

    @on(ProductListed)
    def _listed(self, event: ProductListed) -> None:
        self.name, self.price = event.name, event.price

    @on(ProductPriceChanged)
    def _price_changed(self, event: ProductPriceChanged) -> None:
        self.price = event.new_price

    @on(ProductDiscontinued)
    def _discontinued(self, event: ProductDiscontinued) -> None:
        self.active = False
