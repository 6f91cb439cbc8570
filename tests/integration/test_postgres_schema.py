"""The PostgreSQL event table's indexes: three in the default mode (each one costs every append),
plus the position index a strict-order store adds when it opens."""

from __future__ import annotations

import asyncpg

from eventsourcing import SQLEventStore


async def indexes(url: str) -> dict[str, str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'events'")
    finally:
        await conn.close()
    return {row[0]: row[1].split(" USING btree ", 1)[1] for row in rows}


async def test_three_indexes_serve_the_log_the_streams_and_idempotency(postgres_url: str) -> None:
    async with SQLEventStore(postgres_url):
        pass
    assert await indexes(postgres_url) == {
        "pk_events_xid_position": '(xid, "position")',
        "uq_events_stream_version": "(stream_id, version)",
        "uq_events_event_id": "(event_id)",
    }


async def test_strict_order_adds_a_unique_position_index(postgres_url: str) -> None:
    async with SQLEventStore(postgres_url, strict_order=True):
        pass
    found = await indexes(postgres_url)
    assert found["ix_events_position"] == '("position")'
    assert len(found) == 4
    async with SQLEventStore(postgres_url, strict_order=True):  # reopening changes nothing
        pass
    assert await indexes(postgres_url) == found
