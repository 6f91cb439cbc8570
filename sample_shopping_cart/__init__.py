"""The reference application: a small shop built on the framework, end to end.

Layers, one package each, in the order the tutorial (docs/tutorial.md) builds them:

- `eventsourcing.sample_shopping_cart.domain`: the aggregates (`ShoppingCart`, `Product`), their events and rules;
  pure, no I/O.
- `eventsourcing.sample_shopping_cart.commands`: commands and their handlers on a `CommandBus` (idempotent on
  the command id).
- `eventsourcing.sample_shopping_cart.views`: projectors keeping the query views (cart summaries, popular
  products, abandoned carts).
- `eventsourcing.sample_shopping_cart.shop`: `Shop`, the application object that wires a store, the bus, the
  repositories and the projection runner together.
- `eventsourcing.sample_shopping_cart.api`: the HTTP API and the web page (FastAPI).
- ``python -m eventsourcing.sample_shopping_cart demo | serve``: the entry points.
"""

# The folder sits at the repository's top; it is never a top-level package.
if __name__ != "eventsourcing.sample_shopping_cart":
    raise ImportError(f"import eventsourcing.sample_shopping_cart, not {__name__}")

from eventsourcing._coinstall import refuse_pyeventsourcing

refuse_pyeventsourcing()  # this package's own entry point: pyeventsourcing may have replaced eventsourcing/__init__.py
