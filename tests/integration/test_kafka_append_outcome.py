"""An append whose outcome the store cannot know raises `AppendOutcomeUnknown`; re-sending the same
events (same ids) settles it: stored once, the original result returned.

The broker of the test's own is frozen (SIGSTOP) while an append is in flight: the request times
out (a short ``request_timeout``), although the broker may still append the record when it is
thawed (SIGCONT). The store must not report that as a refusal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from uuid import uuid4

import pytest

from eventsourcing import AppendOutcomeUnknown, DomainEvent, NewEvent, StoreUnavailable
from eventsourcing.stores.kafka import KafkaEventStore
from tests.kafka_server import KafkaBroker

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
TYPE = "it_outcome.stream"


class Paid(DomainEvent):
    event_type = "it_outcome.paid"
    amount: int


def paid(*amounts: int) -> list[NewEvent]:
    return [NewEvent(Paid(amount=a), uuid4(), T0) for a in amounts]


@pytest.fixture
def broker() -> Iterator[KafkaBroker]:
    broker = KafkaBroker(own=True).start()
    try:
        yield broker
    finally:
        broker.thaw()
        broker.stop()


async def test_an_append_timed_out_on_a_frozen_broker_is_unknown_and_a_resend_settles_it(broker: KafkaBroker) -> None:
    prefix = f"t{uuid4().hex[:12]}"
    async with KafkaEventStore(broker.bootstrap_servers, prefix=prefix, partitions=1, request_timeout=1) as store:
        opened = paid(1)
        await store.append("s-1", opened, 0, stream_type=TYPE)
        batch = paid(2, 3)
        broker.freeze()
        try:
            with pytest.raises(AppendOutcomeUnknown) as caught:
                await store.append("s-1", batch, 1, stream_type=TYPE)
        finally:
            broker.thaw()
        assert isinstance(caught.value, StoreUnavailable)  # callers that retry on unavailability still do
        assert "re-send the same events" in str(caught.value) and "refused" not in str(caught.value)
        settled = await store.append("s-1", batch, 1, stream_type=TYPE)  # the same ids: settles it
        again = await store.append("s-1", batch, 1, stream_type=TYPE)  # and stays settled
        assert settled.version == again.version == 3 and settled.position == again.position
        stored = [e.event_id for e in (*opened, *batch)]
        assert [e.event_id for e in await store.read("s-1")] == stored  # each event once
    async with KafkaEventStore(broker.bootstrap_servers, prefix=prefix) as fresh:  # the log decides the same
        assert [e.event_id for e in await fresh.read("s-1")] == stored
        last = await fresh.get_event(batch[1].event_id)
        assert last is not None and last.position == settled.position


async def test_an_append_stored_but_not_read_back_in_time_is_unknown_and_a_resend_returns_the_original(
    kafka_bootstrap: str,
) -> None:
    """The record is acknowledged, but the store cannot read its partition up to it within
    ``append_timeout`` (here: the fetch it needs is held up, by holding the store's fetch lock)."""
    prefix = f"t{uuid4().hex[:12]}"
    async with (
        KafkaEventStore(kafka_bootstrap, prefix=prefix, partitions=1, poll_interval=30, append_timeout=0.5) as store,
        KafkaEventStore(kafka_bootstrap, prefix=prefix, partitions=1) as other,
    ):
        await store.append("s-0", paid(0), 0, stream_type=TYPE)
        await other.append("s-1", paid(1), 0, stream_type=TYPE)  # a record `store` has to fetch before its own
        batch = paid(2)
        async with store._fetching:  # no fetch can run: the append cannot learn what the rule decided
            with pytest.raises(AppendOutcomeUnknown, match="not read back"):
                await store.append("s-2", batch, 0, stream_type=TYPE)
        settled = await store.append("s-2", batch, 0, stream_type=TYPE)
        topic = store.topic_for(TYPE)
        assert settled.version == 1 and settled.position == {f"{topic}/0": [2, 0]}  # the first record's offset
        assert [e.event_id for e in await store.read("s-2")] == [batch[0].event_id]
