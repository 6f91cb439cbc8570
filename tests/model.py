"""A small domain shared by the tests: a shopping cart with invariants."""

from __future__ import annotations

from decimal import Decimal

from eventsourcing import Aggregate, Command, CommandBus, DomainEvent, EventStore, Repository, on


class CartError(Exception):
    """A violated cart invariant."""


class Cart(Aggregate):
    type_name = "tests.Cart"

    class Opened(DomainEvent):
        event_type = "tests.cart.opened"
        customer_id: str

    class ItemAdded(DomainEvent):
        event_type = "tests.cart.item_added"
        sku: str
        quantity: int
        unit_price: Decimal

    class CheckedOut(DomainEvent):
        event_type = "tests.cart.checked_out"

    customer_id: str = ""
    lines: dict[str, int] = {}
    history: list[str] = []
    checked_out: bool = False

    @classmethod
    def open(cls, customer_id: str, cart_id: str | None = None) -> Cart:
        cart = cls(cart_id)
        cart.emit(cls.Opened(customer_id=customer_id))
        return cart

    def add_item(self, sku: str, quantity: int, unit_price: Decimal = Decimal("1.00")) -> None:
        if self.checked_out:
            raise CartError("cart is checked out")
        if quantity <= 0:
            raise CartError("quantity must be positive")
        self.emit(self.ItemAdded(sku=sku, quantity=quantity, unit_price=unit_price))

    def check_out(self) -> None:
        if self.checked_out:
            raise CartError("already checked out")
        self.emit(self.CheckedOut())

    @on(Opened)
    def _opened(self, event: Opened) -> None:
        self.customer_id = event.customer_id

    @on(ItemAdded)
    def _added(self, event: ItemAdded) -> None:
        self.lines[event.sku] = self.lines.get(event.sku, 0) + event.quantity
        self.history.append(event.sku)

    @on(CheckedOut)
    def _checked_out(self, event: CheckedOut) -> None:
        self.checked_out = True


class OpenCart(Command):
    cart_id: str
    customer_id: str


class AddItem(Command):
    cart_id: str
    sku: str
    quantity: int


class CheckOut(Command):
    cart_id: str


def cart_bus(store: EventStore) -> CommandBus:
    bus = CommandBus(store)
    carts = Repository(Cart, store)

    @bus.handler(OpenCart)
    async def open_cart(command: OpenCart) -> str:
        cart = Cart.open(command.customer_id, command.cart_id)
        await carts.save(cart)
        return cart.id

    @bus.handler(AddItem)
    async def add_item(command: AddItem) -> None:
        await carts.update(command.cart_id, lambda cart: cart.add_item(command.sku, command.quantity))

    @bus.handler(CheckOut)
    async def check_out(command: CheckOut) -> None:
        await carts.update(command.cart_id, lambda cart: cart.check_out())

    return bus
