"""DDL compiled from SQLAlchemy tables, idempotent (``IF NOT EXISTS``), for any dialect.

Stores create their schema with these statements inside one transaction, so processes that open
a new database at the same time cannot race between "does it exist?" and "create it".
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.schema import CreateIndex, CreateTable


def create_statements(tables: Sequence[Table], dialect: Dialect) -> list[str]:
    """``CREATE TABLE/INDEX IF NOT EXISTS`` for ``tables`` (in order), in ``dialect``."""
    statements: list[str] = []
    for table in tables:
        statements.append(str(CreateTable(table, if_not_exists=True).compile(dialect=dialect)).strip())
        statements.extend(
            str(CreateIndex(index, if_not_exists=True).compile(dialect=dialect)).strip() for index in table.indexes
        )
    return statements
