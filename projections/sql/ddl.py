"""Schema shared by the SQL checkpoint stores, and DDL for view tables compiled once per dialect."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import BigInteger, Column, Integer, MetaData, PrimaryKeyConstraint, Table, Text
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.schema import DropTable

from eventsourcing.stores.sql.ddl import create_statements

__all__ = ["CHECKPOINTS", "DEAD_LETTERS", "ERRORS", "create_statements", "drop_statements", "metadata"]

CHECKPOINTS = "projection_checkpoints"
DEAD_LETTERS = "projection_dead_letters"
ERRORS = "projection_errors"

metadata = MetaData()
checkpoints_table = Table(
    CHECKPOINTS,
    metadata,
    Column("name", Text, primary_key=True),
    Column("position", Text),  # canonical JSON of the store's token; NULL: from the start
    Column("seq", BigInteger, nullable=False),  # commits and resets so far: the compare-and-set's guard
    Column("updated_at", Text),  # ISO 8601 UTC
)
dead_letters_table = Table(
    DEAD_LETTERS,
    metadata,
    Column("name", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("stream_id", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("position", Text, nullable=False),
    Column("error", Text, nullable=False),
    Column("recorded_at", Text, nullable=False),
    PrimaryKeyConstraint("name", "event_id", name="pk_projection_dead_letters"),
)

# The error a runner stopped with, at checkpoint commit #seq: it applies while the checkpoint's seq
# is still that one (a table of its own, so databases made before it need no migration).
errors_table = Table(
    ERRORS,
    metadata,
    Column("name", Text, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("error", Text, nullable=False),
    Column("recorded_at", Text, nullable=False),
)


def drop_statements(tables: Sequence[Table], dialect: Dialect) -> list[str]:
    return [str(DropTable(table, if_exists=True).compile(dialect=dialect)).strip() for table in tables]
