"""The Kafka record format of one append: round trips, and damaged records refused with `NotAnEnvelope` only."""

from __future__ import annotations

import contextlib
import json
import random
import struct
import uuid

import pytest

from eventsourcing.stores.base import ANY, EXISTS
from eventsourcing.stores.kafka.envelope import (
    ENVELOPE_HEADER,
    MAGIC,
    EventEntry,
    NotAnEnvelope,
    decode_envelope,
    decode_record,
    encode_confluent,
    encode_envelope,
)


def entries(n: int) -> list[EventEntry]:
    return [
        EventEntry(
            uuid.uuid4().bytes, "t.e", 1, f"2026-01-01T00:00:0{i}.000000+00:00", b'{"a":1}' if i else None, b"p" * i
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("expected", [0, 7, ANY, EXISTS])
def test_round_trip(expected: object) -> None:
    batch = entries(3)
    envelope = decode_envelope(encode_envelope("t.Stream", expected, "json", batch))  # type: ignore[arg-type]
    assert (envelope.stream_type, envelope.expected, envelope.codec, envelope.events) == (
        "t.Stream",
        expected,
        "json",
        batch,
    )


def test_confluent_round_trip() -> None:
    (entry,) = entries(1)
    entry = entry._replace(payload=b"\x00\x00\x00\x00\x07body")
    header, value = encode_confluent("t.Stream", 4, entry)
    assert value == entry.payload
    assert decode_record(value, [(ENVELOPE_HEADER, header)]).events == [entry]
    with pytest.raises(ValueError, match="Avro"):
        encode_confluent("t.Stream", 4, entry._replace(payload=b"{}"))


@pytest.mark.parametrize(
    "value",
    [
        None,
        b"",
        b"not an envelope",
        MAGIC + struct.pack(">I", 1000) + b"{}",
        MAGIC + struct.pack(">I", 2) + b"{}",
        encode_envelope("t.S", 0, "json", entries(2))[:-1],
        encode_envelope("t.S", 0, "json", entries(2)) + b"x",
    ],
)
def test_damaged_records_are_refused(value: bytes | None) -> None:
    with pytest.raises(NotAnEnvelope):
        decode_envelope(value)


def test_fields_of_the_wrong_type_are_refused() -> None:
    good = encode_envelope("t.S", 0, "json", entries(1))
    (length,) = struct.unpack_from(">I", good, 4)
    header = json.loads(good[8 : 8 + length])
    for field, bad in [(1, 5), (2, "1"), (2, -1), (3, None), (4, 5)]:
        changed = json.loads(json.dumps(header))
        changed["events"][0][field] = bad
        head = json.dumps(changed).encode()
        with pytest.raises(NotAnEnvelope):
            decode_envelope(MAGIC + struct.pack(">I", len(head)) + head + good[8 + length :])


def test_random_damage_only_ever_raises_not_an_envelope() -> None:
    rng = random.Random(7)
    good = encode_envelope("t.S", 3, "json", entries(4))
    for _ in range(3000):
        damaged = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(damaged))
            if rng.random() < 0.5:
                damaged[position] = rng.randrange(256)
            else:
                del damaged[position:]
                break
        with contextlib.suppress(NotAnEnvelope):  # anything else fails the test
            decode_envelope(bytes(damaged))
