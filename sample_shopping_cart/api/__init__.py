"""The HTTP API and the web page (FastAPI): commands in, aggregates, history and views out."""

from eventsourcing.sample_shopping_cart.api.app import create_app

__all__ = ["create_app"]
