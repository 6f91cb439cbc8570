"""The reference application: a small shop built on the framework, end to end.

Layers, one package each, in the order the tutorial (docs/tutorial.md) builds them:

- `sample_shopping_cart.domain`: the aggregates (`ShoppingCart`, `Product`), their events and rules;
  pure, no I/O.
- `sample_shopping_cart.commands`: commands and their handlers on a `CommandBus` (idempotent on
  the command id).
- `sample_shopping_cart.views`: projectors keeping the query views (cart summaries, popular
  products, abandoned carts).
- `sample_shopping_cart.shop`: `Shop`, the application object that wires a store, the bus, the
  repositories and the projection runner together.
- `sample_shopping_cart.api`: the HTTP API and the web page (FastAPI).
- ``python -m sample_shopping_cart demo | serve``: the entry points.
"""
