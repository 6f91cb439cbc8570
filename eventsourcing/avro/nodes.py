"""Reading Avro schemas as JSON data: what kind a node is, named references, logical types, and the
two shapes that are unsafe to decode from untrusted bytes.

A schema here is plain JSON data (a type name, a union list, or an object). ``named`` maps the
names a schema may reference (full names after `parse`) to their definitions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import fastavro

Schema = Any
"""An Avro schema as JSON data: ``"long"``, ``["null", "string"]``, ``{"type": "record", ...}``."""

Named = Mapping[str, Any]

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED_KINDS = frozenset({"record", "enum", "fixed", "error"})


def parse(schema: Schema) -> tuple[Schema, dict[str, Any]]:
    """fastavro's validating parse (full names everywhere, references by full name) and its named types.

    Raises fastavro's ``SchemaParseException`` (or ``UnknownType``) for an invalid schema.
    """
    named: dict[str, Any] = {}
    parsed = fastavro.parse_schema(schema, named_schemas=named)
    return parsed, named


def resolve(schema: Schema, named: Named) -> Schema:
    """The definition behind a reference, and the inner schema of ``{"type": {...}}`` wrappers."""
    while True:
        if isinstance(schema, str):
            target = named.get(schema)
            if target is None:
                return schema
            schema = target
        elif isinstance(schema, dict) and isinstance(schema.get("type"), dict | list):
            schema = schema["type"]
        elif isinstance(schema, dict) and schema.get("type") in named:
            schema = named[schema["type"]]
        else:
            return schema


def kind(schema: Schema) -> str:
    """``"union"``, a primitive name, or ``record`` / ``enum`` / ``fixed`` / ``array`` / ``map`` (resolve first)."""
    if isinstance(schema, list):
        return "union"
    if isinstance(schema, str):
        return schema
    return str(schema["type"])


def logical(schema: Schema) -> tuple[str, Any, Any] | None:
    """(logicalType, precision, scale) of a node, or None; the parameters only matter for decimals."""
    if not isinstance(schema, dict) or "logicalType" not in schema:
        return None
    name = str(schema["logicalType"])
    if name == "decimal":
        return name, schema.get("precision"), schema.get("scale", 0)
    return name, None, None


def describe(schema: Schema) -> str:
    """A short human name for a node: ``long``, ``decimal(9,2)``, ``record Line``, ``array<string>``."""
    if isinstance(schema, list):
        return "union[" + ", ".join(describe(b) for b in schema) + "]"
    if isinstance(schema, str):
        return schema
    found = logical(schema)
    if found is not None:
        name, precision, scale = found
        return f"decimal({precision},{scale})" if name == "decimal" else f"{schema['type']} ({name})"
    what = schema["type"]
    if what in NAMED_KINDS:
        return f"{what} {schema['name'].split('.')[-1]}"
    if what == "array":
        return f"array<{describe(schema['items'])}>"
    if what == "map":
        return f"map<{describe(schema['values'])}>"
    return str(what)


def unsafe_reason(schema: Schema, named: Named) -> str | None:
    """Why decoding untrusted bytes with ``schema`` could hang or crash, or None if it cannot.

    Two shapes are refused: a recursive named type (corrupt bytes can nest it until the C reader
    overflows its stack) and an array whose items can encode to zero bytes (a corrupt length
    prefix then makes the reader loop, allocating, without consuming input). Every other array,
    string or map length is bounded by the bytes that remain.
    """
    return _unsafe(schema, named, "", ())


def _unsafe(schema: Schema, named: Named, path: str, stack: tuple[str, ...]) -> str | None:
    node = resolve(schema, named)
    if isinstance(node, list):
        for branch in node:
            reason = _unsafe(branch, named, path, stack)
            if reason:
                return reason
        return None
    what = kind(node)
    if what in ("record", "error"):
        full = str(node["name"])
        if full in stack:
            return f"{path or 'the schema'}: the type {full} contains itself (recursive types are not decoded)"
        for field in node["fields"]:
            where = f"{path}.{field['name']}" if path else str(field["name"])
            reason = _unsafe(field["type"], named, where, (*stack, full))
            if reason:
                return reason
        return None
    if what == "array":
        if zero_width(node["items"], named):
            return f"{path or 'the schema'}: an array whose items encode to zero bytes cannot be bounded"
        return _unsafe(node["items"], named, f"{path}[]", stack)
    if what == "map":
        return _unsafe(node["values"], named, f"{path}{{}}", stack)
    return None


def zero_width(schema: Schema, named: Named, _seen: frozenset[int] = frozenset()) -> bool:
    """True if some value of ``schema`` encodes to no bytes at all (null, fixed(0), records of such)."""
    node = resolve(schema, named)
    if isinstance(node, list) or id(node) in _seen:
        return False  # a union writes its branch index; a recursive record is never empty
    what = kind(node)
    if what == "null":
        return True
    if what == "fixed":
        return int(node["size"]) == 0
    if what in ("record", "error"):
        return all(zero_width(f["type"], named, _seen | {id(node)}) for f in node["fields"])
    return False
