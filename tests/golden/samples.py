"""The golden corpus of the reference app's events: one stored sample per event type, schema version and
codec, committed under ``tests/golden/<event type>/`` and never changed once committed.

    python -m tests.golden.samples     # add samples for event versions that have none yet

Each sample is the payload exactly as a store keeps it: ``v<N>.json`` (the JSON codec) and
``v<N>.avro`` (the Avro codec: magic byte, schema id, body) with ``v<N>.avsc``, the writer schema the
Avro payload names. ``tests/unit/test_golden_corpus.py`` decodes every committed sample with the
current classes, so a change to an event class that would leave stored events unreadable fails the
tests; when a class gets a new schema version, this script adds that version's samples next to the
old ones (it never overwrites a file).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from eventsourcing.avro import AvroCodec, MemorySchemaRegistry
from eventsourcing.events import DomainEvent
from eventsourcing.sample_shopping_cart.domain import cart_events, product_events
from eventsourcing.serialization import JSONCodec

ROOT = Path(__file__).resolve().parent
MODULES = (cart_events, product_events)

_LINE = {"sku": "tea-01", "name": "Green tea", "quantity": 2, "unit_price": Decimal("3.50")}
# Field values of each event type's sample (as of the version that adds the sample).
VALUES: dict[str, dict[str, Any]] = {
    "cart.opened": {"customer_id": "alice"},
    "cart.item_added": dict(_LINE),
    "cart.item_removed": {"sku": "tea-01"},
    "cart.item_quantity_changed": {"sku": "tea-01", "quantity": 5},
    "cart.discount_applied": {"code": "SPRING10", "percent": 10},
    "cart.checked_out": {
        "lines": [_LINE],
        "subtotal": Decimal("7.00"),
        "discount": Decimal("0.70"),
        "total": Decimal("6.30"),
    },
    "cart.abandoned": {"reason": "idle for 30 minutes", "lines": [_LINE], "total": Decimal("7.00")},
    "product.listed": {"name": "Green tea", "price": Decimal("3.50")},
    "product.price_changed": {"old_price": Decimal("3.50"), "new_price": Decimal("3.90")},
    "product.discontinued": {},
}


def event_classes() -> list[type[DomainEvent]]:
    """The app's event classes (every `DomainEvent` subclass its event modules define)."""
    found = []
    for module in MODULES:
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, DomainEvent) and value is not DomainEvent:
                found.append(value)
    return sorted(found, key=lambda cls: cls.event_type)


def sample_paths(cls: type[DomainEvent]) -> dict[str, Path]:
    folder = ROOT / cls.event_type
    stem = f"v{cls.schema_version}"
    return {kind: folder / f"{stem}.{kind}" for kind in ("json", "avro", "avsc")}


def add_missing() -> list[Path]:
    written = []
    registry = MemorySchemaRegistry()
    avro, json_codec = AvroCodec(registry), JSONCodec()
    for cls in event_classes():
        paths = sample_paths(cls)
        if all(path.exists() for path in paths.values()):
            continue
        if cls.event_type not in VALUES:
            raise SystemExit(f"no sample values for {cls.event_type!r}: add them to VALUES in {__file__}")
        event = cls(**VALUES[cls.event_type])
        contents = {
            "json": json_codec.encode(event),
            "avro": avro.encode(event),
            "avsc": json.dumps(avro.schema(cls), indent=2, sort_keys=True).encode() + b"\n",
        }
        paths["json"].parent.mkdir(parents=True, exist_ok=True)
        for kind, path in paths.items():
            if not path.exists():
                path.write_bytes(contents[kind])
                written.append(path)
    return written


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


if __name__ == "__main__":
    for path in add_missing():
        print(f"{_now()} wrote {path.relative_to(ROOT)}", file=sys.stderr)
