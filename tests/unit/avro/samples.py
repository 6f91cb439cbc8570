"""Sample data for any Avro schema: a few values that together take every union branch and enum symbol."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from itertools import cycle, islice
from typing import Any

from eventsourcing.avro.nodes import kind, logical, parse, resolve

_PRIMITIVES: dict[str, list[Any]] = {
    "null": [None],
    "boolean": [True, False],
    "int": [7, -3],
    "long": [7, -(2**40)],
    "float": [1.5],
    "double": [2.25],
    "bytes": [b"ab"],
    "string": ["ab", ""],
}


def samples(schema: Any, max_depth: int = 3) -> list[Any]:
    parsed, named = parse(schema)
    return _samples(parsed, named, max_depth)


def _samples(schema: Any, named: dict[str, Any], depth: int) -> list[Any]:
    node = resolve(schema, named)
    if isinstance(node, list):
        branches = node if depth > 0 else [b for b in node if b == "null"] or node[:1]
        return [value for branch in branches for value in _samples(branch, named, depth - 1)]
    what, found = kind(node), logical(node)
    if found is not None:
        name, _, scale = found
        if name == "decimal":
            return [Decimal("1.5").quantize(Decimal(1).scaleb(-int(scale))), Decimal(-2)]
        if name == "uuid":
            return [uuid.UUID(int=12345)]
        if name == "date":
            return [dt.date(2024, 2, 29)]
        if name == "timestamp-micros":
            return [dt.datetime(2024, 2, 29, 12, 0, 0, 123456, tzinfo=dt.UTC)]
    if what in _PRIMITIVES:
        return list(_PRIMITIVES[what])
    if what == "enum":
        return list(node["symbols"])
    if what == "fixed":
        return [b"\x01" * int(node["size"])]
    if what == "array":
        items = _samples(node["items"], named, depth - 1)
        return [items, []]
    if what == "map":
        values = _samples(node["values"], named, depth - 1)
        return [{f"k{i}": v for i, v in enumerate(values)}, {}]
    columns = {f["name"]: _samples(f["type"], named, depth - 1) for f in node["fields"]}
    count = max((len(c) for c in columns.values()), default=1)
    return [
        dict(zip(columns, row, strict=True))
        for row in zip(*(islice(cycle(c), count) for c in columns.values()), strict=True)
    ] or [{}]
