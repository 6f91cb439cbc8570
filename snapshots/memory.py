"""`MemorySnapshotStore`: snapshots in a dict, for tests and prototypes."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Self

from eventsourcing.clock import require_aware
from eventsourcing.snapshotting import Snapshot, check_keep


class MemorySnapshotStore:
    def __init__(self) -> None:
        self._by_stream: dict[str, dict[tuple[int, str], Snapshot]] = {}

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def save(self, snapshot: Snapshot) -> None:
        await asyncio.sleep(0)
        self._by_stream.setdefault(snapshot.stream_id, {})[(snapshot.version, snapshot.fingerprint)] = snapshot

    async def latest(
        self,
        stream_id: str,
        *,
        fingerprint: str,
        max_version: int | None = None,
        as_of: dt.datetime | None = None,
    ) -> Snapshot | None:
        await asyncio.sleep(0)
        as_of = None if as_of is None else require_aware(as_of, "as_of")
        best: Snapshot | None = None
        for snapshot in self._by_stream.get(stream_id, {}).values():
            if snapshot.fingerprint != fingerprint:
                continue
            if max_version is not None and snapshot.version > max_version:
                continue
            if as_of is not None and snapshot.timestamp > as_of:
                continue
            if best is None or snapshot.version > best.version:
                best = snapshot
        return best

    async def list(self, *, stream_id: str | None = None, stream_type: str | None = None) -> list[Snapshot]:
        found = [
            s
            for sid, by_key in self._by_stream.items()
            if stream_id is None or sid == stream_id
            for s in by_key.values()
            if stream_type is None or s.stream_type == stream_type
        ]
        return sorted(found, key=lambda s: (s.stream_id, s.version))

    async def keep_newest(self, n: int, *, stream_id: str | None = None, stream_type: str | None = None) -> int:
        check_keep(n)
        await asyncio.sleep(0)
        removed = 0
        for sid, by_key in self._by_stream.items():
            if stream_id is not None and sid != stream_id:
                continue
            chosen = [key for key, s in by_key.items() if stream_type is None or s.stream_type == stream_type]
            for key in sorted(chosen, reverse=True)[n:]:  # keys are (version, fingerprint): newest first
                del by_key[key]
                removed += 1
        return removed

    async def prune(self, *, stream_type: str, keep_fingerprint: str) -> int:
        removed = 0
        for by_key in self._by_stream.values():
            for key, snapshot in list(by_key.items()):
                if snapshot.stream_type == stream_type and snapshot.fingerprint != keep_fingerprint:
                    del by_key[key]
                    removed += 1
        return removed
