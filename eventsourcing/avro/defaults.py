"""Field defaults in their two forms: Avro's JSON encoding (in schemas) and the Python value fastavro hands back.

Avro writes a default in the schema as JSON in the encoding of the field's underlying type (bytes
as a string of code points 0-255, a decimal as its two's-complement bytes, a date as days since
1970, a timestamp as microseconds). fastavro copies a reader default into the decoded record as it
is written in the schema, without applying the logical type; `to_native` gives the value the field
would have had if it had been decoded, so defaults of dates, timestamps, decimals and bytes come
back right.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.avro.nodes import Named, Schema, kind, logical, resolve

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_DATE = dt.date(1970, 1, 1)
_LONG = range(-(2**63), 2**63)


class Unrepresentable(ValueError):
    """The value has no JSON default in this schema (the field then simply has no Avro default)."""


def to_avro(schema: Schema, value: Any, named: Named) -> Any:
    """The JSON default for a value as fastavro would write it (Decimal, datetime, UUID, bytes, dicts...)."""
    node = resolve(schema, named)
    if isinstance(node, list):  # Avro: a union's default belongs to its first branch
        return to_avro(node[0], value, named)
    what, found = kind(node), logical(node)
    name = found[0] if found else None
    if what == "null" and value is None:
        return None
    if what == "boolean" and isinstance(value, bool):
        return value
    if what in ("int", "long"):
        if name == "date" and isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return (value - _EPOCH_DATE).days
        if name == "timestamp-micros" and isinstance(value, dt.datetime) and value.utcoffset() is not None:
            return (value - _EPOCH) // dt.timedelta(microseconds=1)
        if name is None and isinstance(value, int) and not isinstance(value, bool) and value in _LONG:
            return value
    if what in ("float", "double") and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if what == "string":
        if name == "uuid" and isinstance(value, UUID | str):
            return str(UUID(str(value)))
        if name is None and isinstance(value, str):
            return value
    if what == "bytes":
        if name == "decimal" and isinstance(value, Decimal) and found is not None:
            return _decimal_bytes(value, int(found[2])).decode("latin-1")
        if name is None and isinstance(value, bytes):
            return value.decode("latin-1")
    if what == "enum" and isinstance(value, str) and value in node["symbols"]:
        return value
    if what == "array" and isinstance(value, list | tuple | set | frozenset):
        return [to_avro(node["items"], item, named) for item in value]
    if what == "map" and isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return {k: to_avro(node["values"], v, named) for k, v in value.items()}
    if what == "record" and isinstance(value, Mapping):
        return {f["name"]: to_avro(f["type"], value[f["name"]], named) for f in node["fields"] if f["name"] in value}
    raise Unrepresentable(f"{value!r} has no default in an Avro {what}")


def to_native(schema: Schema, value: Any, named: Named) -> Any:
    """The value a JSON default stands for, as fastavro would have decoded it (the inverse of `to_avro`)."""
    node = resolve(schema, named)
    if isinstance(node, list):
        return to_native(node[0], value, named)
    what, found = kind(node), logical(node)
    name = found[0] if found else None
    if value is None:
        return None
    if name == "date" and isinstance(value, int):
        return _EPOCH_DATE + dt.timedelta(days=value)
    if name == "timestamp-micros" and isinstance(value, int):
        return _EPOCH + dt.timedelta(microseconds=value)
    if name == "timestamp-millis" and isinstance(value, int):
        return _EPOCH + dt.timedelta(milliseconds=value)
    if name == "uuid" and isinstance(value, str):
        return UUID(value)
    if what in ("bytes", "fixed") and isinstance(value, str):
        raw = value.encode("latin-1")
        if name == "decimal" and found is not None:
            return Decimal(int.from_bytes(raw, "big", signed=True)).scaleb(-int(found[2]))
        return raw
    if what == "array" and isinstance(value, list):
        return [to_native(node["items"], item, named) for item in value]
    if what == "map" and isinstance(value, dict):
        return {k: to_native(node["values"], v, named) for k, v in value.items()}
    if what in ("record", "error") and isinstance(value, dict):
        record = {}
        for field in node["fields"]:
            if field["name"] in value:
                record[field["name"]] = to_native(field["type"], value[field["name"]], named)
            elif "default" in field:
                record[field["name"]] = to_native(field["type"], field["default"], named)
        return record
    return value


def _decimal_bytes(value: Decimal, scale: int) -> bytes:
    """The unscaled value's big-endian two's complement, as Avro's decimal logical type stores it."""
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int) or -exponent > scale:
        raise Unrepresentable(f"{value} has more than {scale} decimal places")
    unscaled = int("".join(map(str, digits)) or "0") * 10 ** (scale + exponent)
    unscaled = -unscaled if sign else unscaled
    size = (unscaled.bit_length() + 8) // 8  # one spare bit for the sign
    raw: bytes = unscaled.to_bytes(size, "big", signed=True)
    return raw
