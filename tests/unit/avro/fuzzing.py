"""The fuzzing run behind test_fuzz.py, in a child process so that a hang or a crash is caught.

``python -m tests.unit.avro.fuzzing COUNT SEED`` mutates valid Avro payloads (bit flips, byte
changes, truncations, insertions of huge varints, another schema id in the header...), decodes each
with the codec (``decoder`` and ``decode_dict``) and prints a JSON summary: how often each error
occurred, the slowest decode, and any error that is not one of the expected ones.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field

from eventsourcing import CorruptEvent, DomainEvent, SchemaMismatch
from eventsourcing.avro import AvroCodec, UnknownSchema

EXPECTED = (CorruptEvent, SchemaMismatch, UnknownSchema)


class Size(StrEnum):
    small = "small"
    large = "large"


class Line(BaseModel):
    sku: str
    qty: int
    price: Decimal = Field(max_digits=9, decimal_places=2)


class Fuzzed(DomainEvent):
    event_type = "avro_fuzz.fuzzed"
    id: uuid.UUID
    at: dt.datetime
    day: dt.date
    size: Size
    note: str | None
    amount: Decimal = Field(max_digits=12, decimal_places=2)
    loose: Decimal
    lines: list[Line]
    tags: dict[str, int]
    blob: bytes


class Simple(DomainEvent):
    event_type = "avro_fuzz.simple"
    amount: int
    note: str


OLDER_FUZZED = {  # an earlier writer schema of Fuzzed, so that ids in headers also lead to resolution
    "type": "record",
    "name": "fuzzed",
    "namespace": "avro_fuzz.v1",
    "eventsourcing.event_type": "avro_fuzz.fuzzed",
    "eventsourcing.schema_version": 1,
    "fields": [
        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "tags", "type": {"type": "map", "values": "int"}},
        {"name": "note", "type": ["null", "string", "long"]},
    ],
}


def samples() -> list[DomainEvent]:
    lines = [Line(sku=f"sku-{i}", qty=i, price=Decimal(i) / 4) for i in range(3)]
    return [
        Fuzzed(
            id=uuid.UUID(int=99),
            at=dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC),
            day=dt.date(2024, 1, 2),
            size=Size.large,
            note="a note",
            amount=Decimal("12.34"),
            loose=Decimal("1e-30"),
            lines=lines,
            tags={"a": 1, "b": -2},
            blob=b"\x00\x01",
        ),
        Fuzzed(
            id=uuid.UUID(int=1),
            at=dt.datetime(1960, 1, 1, tzinfo=dt.UTC),
            day=dt.date(1, 1, 1),
            size=Size.small,
            note=None,
            amount=Decimal("-0.01"),
            loose=Decimal(0),
            lines=[],
            tags={},
            blob=b"",
        ),
        Simple(amount=10, note="n" * 100),
    ]


def mutate(data: bytes, rng: random.Random, ids: list[int]) -> bytes:
    body = bytearray(data)
    choice = rng.randrange(8)
    if choice == 0:  # flip a few bits
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(body))
            body[i] ^= 1 << rng.randrange(8)
    elif choice == 1:  # replace a byte
        body[rng.randrange(len(body))] = rng.randrange(256)
    elif choice == 2:  # truncate
        del body[rng.randrange(len(body)) :]
    elif choice == 3:  # a huge varint (length, count, union index or enum index) somewhere in the body
        i = rng.randrange(5, len(body) + 1)
        body[i:i] = bytes([0xFF] * rng.randint(1, 9) + [rng.randrange(128)])
    elif choice == 4:  # random bytes inserted
        i = rng.randrange(len(body) + 1)
        body[i:i] = rng.randbytes(rng.randint(1, 8))
    elif choice == 5:  # another (known or unknown) schema id in the header
        other = rng.choice([*ids, rng.randrange(2**31)])
        body[1:5] = other.to_bytes(4, "big")
    elif choice == 6:  # a random body
        body[5:] = rng.randbytes(rng.randint(0, 40))
    else:  # a slice repeated
        i = rng.randrange(len(body))
        body[i:i] = body[i : i + rng.randint(1, 8)]
    return bytes(body)


def main(count: int, seed: int) -> dict[str, object]:
    codec = AvroCodec()
    older = codec.registry.register(OLDER_FUZZED)
    events = samples()
    payloads = [(type(e), codec.encode(e)) for e in events]
    ids = [older, *(codec.schema_id(type(e)) for e in events)]
    decoders: dict[type[DomainEvent], Callable[[bytes], object]] = {cls: codec.decoder(cls) for cls, _ in payloads}
    rng = random.Random(seed)
    outcomes: Counter[str] = Counter()
    unexpected: list[str] = []
    slowest = 0.0
    for _ in range(count):
        cls, valid = rng.choice(payloads)
        data = mutate(valid, rng, ids)
        for decode in (decoders[cls], codec.decode_dict):
            started = time.perf_counter()
            try:
                decode(data)
                outcomes["decoded"] += 1
            except EXPECTED as err:
                outcomes[type(err).__name__] += 1
                if cls.event_type not in str(err) and decode is decoders[cls]:
                    unexpected.append(f"does not name the event: {err!r} for {data.hex()}")
            except Exception as err:
                unexpected.append(f"{type(err).__name__}: {err} for {data.hex()}")
            slowest = max(slowest, time.perf_counter() - started)
    return {"outcomes": dict(outcomes), "slowest": slowest, "unexpected": unexpected[:20]}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), int(sys.argv[2]))))
