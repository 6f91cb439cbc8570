"""SQL event stores (SQLite now; PostgreSQL binds the same façade)."""

from eventsourcing.stores.sql.store import SQLEventStore

__all__ = ["SQLEventStore"]
