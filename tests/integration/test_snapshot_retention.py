"""`keep_newest` against a model: random saves and trims on the memory and SQLite snapshot stores.

The contract suite (snapshots/testing.py) pins the cases, on every backend; this draws sequences of
operations and checks that each store keeps exactly what the model says, and reports the same counts.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventsourcing.snapshots import MemorySnapshotStore, SQLSnapshotStore
from eventsourcing.snapshots.testing import snap

STREAMS = {"a": "contract.Agg", "b": "contract.Agg", "c": "contract.Other"}
SAVE = st.tuples(
    st.just("save"), st.sampled_from(sorted(STREAMS)), st.integers(1, 8), st.sampled_from(["fp-1", "fp-2"])
)
TRIM = st.tuples(
    st.just("keep"),
    st.integers(1, 4),
    st.none() | st.sampled_from(sorted(STREAMS)),
    st.none() | st.sampled_from(sorted(set(STREAMS.values()))),
)
OPS = st.lists(SAVE | TRIM, min_size=1, max_size=25)

Key = tuple[str, int, str]


def model_keep(kept: set[Key], n: int, stream: str | None, type_: str | None) -> int:
    removed = 0
    for sid in STREAMS:
        if (stream is not None and sid != stream) or (type_ is not None and STREAMS[sid] != type_):
            continue
        mine = sorted(((v, fp) for s, v, fp in kept if s == sid), reverse=True)
        for version, fingerprint in mine[n:]:
            kept.discard((sid, version, fingerprint))
            removed += 1
    return removed


async def play(store: Any, ops: list[tuple[Any, ...]]) -> None:
    kept: set[Key] = set()
    for op in ops:
        if op[0] == "save":
            _, sid, version, fingerprint = op
            await store.save(snap(sid, version, fingerprint, stream_type=STREAMS[sid]))
            kept.add((sid, version, fingerprint))
        else:
            _, n, stream, type_ = op
            expected = model_keep(kept, n, stream, type_)
            assert await store.keep_newest(n, stream_id=stream, stream_type=type_) == expected, op
        stored = {(s.stream_id, s.version, s.fingerprint) for s in await store.list()}
        assert stored == kept, op


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
def test_memory_store_keeps_what_the_model_keeps(ops: list[tuple[Any, ...]]) -> None:
    asyncio.run(play(MemorySnapshotStore(), ops))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
def test_sqlite_store_keeps_what_the_model_keeps(ops: list[tuple[Any, ...]]) -> None:
    async def run() -> None:
        with tempfile.TemporaryDirectory() as folder:
            async with SQLSnapshotStore(f"sqlite:///{Path(folder) / 'snapshots.db'}") as store:
                await play(store, ops)

    asyncio.run(run())
