"""`ViewBatch`: one batch's writes to a projector's view tables, committed with its checkpoint.

(Called `View` before: a "view" is the tables themselves; the old name still works, with a warning.)

Handlers are plain functions called once per event, and must not cost a round trip each: so a
handler does not execute SQL, it *records* it. ``view.execute(sql, params)`` appends the parameters
to the current group when the statement is the same as the previous one, and the whole batch is
executed at commit as a few ``executemany`` calls, in one transaction with the checkpoint update.
``view.add(table, key, n=1)`` merges increments of the same row within a batch (one upsert per row
instead of one per event). Reads (``await view.fetch(...)``, from ``async`` handlers) first
execute what was recorded so far, in the batch's transaction, so a handler reads its own writes.

SQL is written once for every dialect: ``?`` placeholders (translated to ``$1, $2, ...`` for
PostgreSQL) and ``{table}`` for each declared table (resolved to the real name, which a rebuild
as of a past time suffixes). Both translations are cached per statement.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import MetaData, Table
from sqlalchemy.sql.elements import quoted_name

from eventsourcing._renamed import renamed

if TYPE_CHECKING:
    from eventsourcing.projections.checkpoints import Checkpoint, CheckpointStore

_TABLE_REF = re.compile(r"\{(\w+)\}")

Params = Sequence[Any]
Ops = list[tuple[str, list[Params]]]


@dataclass(slots=True)
class ViewTables:
    """A projector's tables as one run sees them: logical name -> real name and key columns."""

    names: Mapping[str, str]
    keys: Mapping[str, tuple[str, ...]]
    dialect: str | None
    _prepared: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, tables: Sequence[Table], dialect: str | None, suffix: str = "") -> ViewTables:
        return cls(
            {t.name: f"{t.name}{suffix}" for t in tables},
            {t.name: tuple(c.name for c in t.primary_key.columns) for t in tables},
            dialect,
        )

    def prepare(self, sql: str) -> str:
        """``sql`` with table names resolved and placeholders in the dialect's style (cached)."""
        done = self._prepared.get(sql)
        if done is None:
            done = _TABLE_REF.sub(self._table, sql) if "{" in sql else sql
            if self.dialect == "postgresql":
                done = _numbered(done)
            self._prepared[sql] = done
        return done

    def _table(self, match: re.Match[str]) -> str:
        name = match.group(1)
        try:
            return self.names[name]
        except KeyError:
            raise KeyError(f"{{{name}}} names no table of this projector (declared: {', '.join(self.names)})") from None


def _numbered(sql: str) -> str:
    count = 0

    def number(_match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"${count}"

    return re.sub(r"\?", number, sql)


class ViewBatch:
    """The writes of one batch. Handlers call `execute`, `add`, `call`; async handlers may `await fetch`."""

    __slots__ = (
        "_adds",
        "_bounds",
        "_effects",
        "_last_params",
        "_last_sql",
        "_ops",
        "_store",
        "expected",
        "failed",
        "in_transaction",
        "tables",
        "tx",
    )

    def __init__(self, tables: ViewTables, store: CheckpointStore | None = None, expected: Checkpoint | None = None):
        self.tables = tables
        self.expected = expected
        self.in_transaction = False
        self.failed: BaseException | None = None
        """Set when a read of this batch failed and rolled its transaction back: the batch cannot commit."""
        self.tx: Any = None  # the store's handle on a transaction opened for reads
        self._store = store
        self._ops: Ops = []
        self._last_sql: str | None = None
        self._last_params: list[Params] = []
        self._adds: dict[tuple[str, tuple[str, ...]], dict[tuple[Any, ...], list[Any]]] = {}
        self._effects: list[tuple[Callable[..., object], tuple[Any, ...]]] = []
        self._bounds: list[tuple[int, Any]] = []

    # -- what handlers call ---------------------------------------------------------------------

    def execute(self, sql: str, params: Params = ()) -> None:
        """Record a statement (``?`` placeholders, ``{table}`` names) to run in the batch's transaction."""
        if self._adds:
            self._seal_adds()
        if sql is self._last_sql or sql == self._last_sql:
            self._last_params.append(params)
        else:
            self._last_params = [params]
            self._last_sql = sql
            self._ops.append((sql, self._last_params))

    def add(self, table: str, key: Any, **deltas: float) -> None:
        """Add ``deltas`` to columns of the row of ``table`` with primary key ``key`` (created at 0).

        Increments of the same row within a batch are merged, so a counter view costs one upsert per
        row and batch. ``key`` is the primary key value, or a tuple of values for a composite key.
        """
        columns = tuple(deltas)
        bucket = self._adds.get((table, columns))
        if bucket is None:
            bucket = self._adds[(table, columns)] = {}
        row_key = key if key.__class__ is tuple else (key,)
        totals = bucket.get(row_key)
        if totals is None:
            bucket[row_key] = [*deltas.values()]
        else:
            for i, value in enumerate(deltas.values()):
                totals[i] += value

    def call(self, fn: Callable[..., object], *args: Any) -> None:
        """Record an in-process effect ``fn(*args)``, applied when the batch commits (in-process stores only)."""
        self._effects.append((fn, args))

    async def fetch(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """Query the view database inside the batch's transaction, after the writes recorded so far."""
        if self._store is None or self.expected is None:
            raise RuntimeError("this view is not bound to a checkpoint store: it cannot read")
        return await self._store.fetch_in_batch(self, sql, params)

    async def fetchone(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None:
        rows = await self.fetch(sql, params)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    # -- what stores call -----------------------------------------------------------------------

    @property
    def has_sql(self) -> bool:
        return bool(self._ops or self._adds)

    def take_ops(self) -> Ops:
        """The recorded statements, prepared for the store's dialect, in order; the view is then empty."""
        if self._adds:
            self._seal_adds()
        prepare = self.tables.prepare
        ops = [(prepare(sql), params) for sql, params in self._ops]
        self._ops = []
        self._last_sql = None
        self._last_params = []
        return ops

    def take_effects(self) -> list[tuple[Callable[..., object], tuple[Any, ...]]]:
        effects, self._effects = self._effects, []
        return effects

    def begin_event(self, position: Any) -> None:
        """Mark where the effects of the event at ``position`` begin (in-process views: a store that
        applies effects can then commit the events whose effects all went through, and no more)."""
        self._bounds.append((len(self._effects), position))

    def take_bounds(self) -> list[tuple[int, Any]]:
        """(index of its first effect, position) of each event marked with `begin_event`, in order."""
        bounds, self._bounds = self._bounds, []
        return bounds

    def _seal_adds(self) -> None:
        # Increments commute with each other but not with other statements: they are merged only
        # while no other statement comes between them, so the batch keeps the handlers' order.
        adds, self._adds = self._adds, {}
        self._last_sql = None
        for (table, columns), rows in adds.items():
            keys = self.tables.keys[table]
            real = self.tables.names[table]
            names = ", ".join((*keys, *columns))
            marks = ", ".join("?" * (len(keys) + len(columns)))
            sets = ", ".join(f"{c} = {real}.{c} + excluded.{c}" for c in columns)
            conflict = ", ".join(keys)
            sql = f"INSERT INTO {{{table}}} ({names}) VALUES ({marks}) ON CONFLICT ({conflict}) DO UPDATE SET {sets}"
            self._ops.append((sql, [(*key, *totals) for key, totals in rows.items()]))


def table_copies(tables: Sequence[Table], suffix: str) -> list[Table]:
    """The tables renamed with ``suffix`` (in a new MetaData; named indexes renamed too)."""
    if not suffix:
        return list(tables)
    metadata = MetaData()
    copies = []
    for table in tables:
        copy = table.to_metadata(metadata, name=f"{table.name}{suffix}")
        for index in copy.indexes:
            if index.name:
                index.name = quoted_name(f"{index.name}{suffix}", None)
        copies.append(copy)
    return copies


__getattr__ = renamed(__name__, {"View": "ViewBatch"}, globals())  # the old name, for one release
