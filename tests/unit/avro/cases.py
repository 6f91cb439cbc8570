"""The Avro specification's schema resolution rules as a table of (reader, writer) cases.

Each case says whether the reader can read the writer's data, and for an incompatible one, words
the problem must contain, and whether fastavro itself refuses it (the cross-check then shows it
failing there too; where we are stricter than the spec, fastavro reads it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Case:
    id: str
    reader: Any
    writer: Any
    problems: tuple[str, ...] = ()
    """Substrings, one per expected problem (in order); empty: compatible."""
    fastavro_refuses: bool = True


def record(name: str, *fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "record", "name": name, "fields": list(fields), **extra}


def field(name: str, schema: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": schema, **extra}


def ev(*fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return record("Ev", *fields, **extra)


def enum(name: str, *symbols: str, **extra: Any) -> dict[str, Any]:
    return {"type": "enum", "name": name, "symbols": list(symbols), **extra}


def decimal(precision: int, scale: int) -> dict[str, Any]:
    return {"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale}


UUID = {"type": "string", "logicalType": "uuid"}
DATE = {"type": "int", "logicalType": "date"}
LINE = record("Line", field("sku", "string"), field("qty", "int"))

PRIMITIVES = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"]

COMPATIBLE = [
    *[Case(f"same-{p}", ev(field("x", p)), ev(field("x", p))) for p in PRIMITIVES],
    Case("promote-int-long", ev(field("x", "long")), ev(field("x", "int"))),
    Case("promote-int-float", ev(field("x", "float")), ev(field("x", "int"))),
    Case("promote-int-double", ev(field("x", "double")), ev(field("x", "int"))),
    Case("promote-long-float", ev(field("x", "float")), ev(field("x", "long"))),
    Case("promote-long-double", ev(field("x", "double")), ev(field("x", "long"))),
    Case("promote-float-double", ev(field("x", "double")), ev(field("x", "float"))),
    Case("promote-string-bytes", ev(field("x", "bytes")), ev(field("x", "string"))),
    Case("promote-bytes-string", ev(field("x", "string")), ev(field("x", "bytes"))),
    Case(
        "reader-adds-field-with-default",
        ev(field("x", "long"), field("y", "string", default="")),
        ev(field("x", "long")),
    ),
    Case("reader-drops-field", ev(field("x", "long")), ev(field("x", "long"), field("gone", "string"))),
    Case(
        "fields-reordered", ev(field("b", "string"), field("a", "long")), ev(field("a", "long"), field("b", "string"))
    ),
    Case("reader-field-alias", ev(field("amount", "long", aliases=["amt"])), ev(field("amt", "long"))),
    Case("record-alias", record("Deposit", field("x", "long"), aliases=["Ev"]), ev(field("x", "long"))),
    Case(
        "record-alias-full-name",
        record("Deposit", field("x", "long"), namespace="b", aliases=["a.Ev"]),
        ev(field("x", "long"), namespace="a"),
    ),
    Case("namespace-differs", ev(field("x", "long"), namespace="b.v2"), ev(field("x", "long"), namespace="b.v1")),
    Case("enum-adds-symbol", ev(field("s", enum("S", "a", "b", "c"))), ev(field("s", enum("S", "a", "b")))),
    Case(
        "enum-drops-symbol-with-default",
        ev(field("s", enum("S", "a", "other", default="other"))),
        ev(field("s", enum("S", "a", "b"))),
    ),
    Case(
        "array-items-promoted",
        ev(field("xs", {"type": "array", "items": "long"})),
        ev(field("xs", {"type": "array", "items": "int"})),
    ),
    Case(
        "map-values-promoted",
        ev(field("m", {"type": "map", "values": "double"})),
        ev(field("m", {"type": "map", "values": "float"})),
    ),
    Case("writer-int-reader-optional-long", ev(field("x", ["null", "long"])), ev(field("x", "int"))),
    Case("writer-union-widened", ev(field("x", ["null", "long", "string"])), ev(field("x", ["null", "int"]))),
    Case("union-order-swapped", ev(field("x", ["string", "null"])), ev(field("x", ["null", "string"]))),
    Case("writer-union-reader-single", ev(field("x", "double")), ev(field("x", ["int", "long"]))),
    Case("writer-null-reader-optional", ev(field("x", ["null", "string"])), ev(field("x", "null"))),
    Case(
        "fixed-same",
        ev(field("f", {"type": "fixed", "name": "F", "size": 4})),
        ev(field("f", {"type": "fixed", "name": "F", "size": 4})),
    ),
    Case("decimal-same", ev(field("d", decimal(9, 2))), ev(field("d", decimal(9, 2)))),
    Case("uuid-same", ev(field("u", UUID)), ev(field("u", UUID))),
    Case(
        "nested-field-added-with-default",
        ev(
            field(
                "lines",
                {"type": "array", "items": record("Line", field("sku", "string"), field("qty", "int", default=1))},
            )
        ),
        ev(field("lines", {"type": "array", "items": record("Line", field("sku", "string"))})),
    ),
    Case(
        "named-reference-reused",
        ev(field("a", LINE), field("b", "Line")),
        ev(field("a", LINE), field("b", "Line")),
    ),
    Case(
        "recursive-list",
        record("Node", field("v", "long"), field("next", ["null", "Node"])),
        record("Node", field("v", "int"), field("next", ["null", "Node"])),
    ),
    Case(
        "optional-field-added",
        ev(field("x", "long"), field("note", ["null", "string"], default=None)),
        ev(field("x", "long")),
    ),
    Case("top-level-union", ["null", "long"], ["null", "int"]),
]

INCOMPATIBLE = [
    Case(
        "long-to-int", ev(field("x", "int")), ev(field("x", "long")), ("Ev.x: the writer's long cannot be read as int",)
    ),
    Case("double-to-float", ev(field("x", "float")), ev(field("x", "double")), ("cannot be read as float",)),
    Case("float-to-long", ev(field("x", "long")), ev(field("x", "float")), ("cannot be read as long",)),
    Case("string-to-long", ev(field("x", "long")), ev(field("x", "string")), ("cannot be read as long",)),
    Case("boolean-to-int", ev(field("x", "int")), ev(field("x", "boolean")), ("cannot be read as int",)),
    Case(
        "reader-adds-field-without-default",
        ev(field("x", "long"), field("added", "string")),
        ev(field("x", "long")),
        ("Ev.added: the writer has no such field and the reader's field has no default",),
    ),
    Case(
        "record-renamed",
        record("Other", field("x", "long")),
        ev(field("x", "long")),
        ("record Ev does not match the reader's record Other",),
    ),
    Case(
        "enum-drops-symbol",
        ev(field("s", enum("S", "a"))),
        ev(field("s", enum("S", "a", "b", "c"))),
        ("Ev.s: the writer's symbols ['b', 'c'] are not in the reader's enum S and it has no default symbol",),
    ),
    Case("enum-renamed", ev(field("s", enum("T", "a"))), ev(field("s", enum("S", "a"))), ("enum S does not match",)),
    Case(
        "fixed-resized",
        ev(field("f", {"type": "fixed", "name": "F", "size": 8})),
        ev(field("f", {"type": "fixed", "name": "F", "size": 4})),
        ("Ev.f: fixed size changed from 4 to 8",),
    ),
    Case(
        "array-items-changed",
        ev(field("xs", {"type": "array", "items": "string"})),
        ev(field("xs", {"type": "array", "items": "long"})),
        ("Ev.xs[]: the writer's long cannot be read as string",),
    ),
    Case(
        "map-values-changed",
        ev(field("m", {"type": "map", "values": "int"})),
        ev(field("m", {"type": "map", "values": "long"})),
        ("Ev.m{}: the writer's long cannot be read as int",),
    ),
    Case(
        "array-to-map",
        ev(field("x", {"type": "map", "values": "long"})),
        ev(field("x", {"type": "array", "items": "long"})),
        ("array<long> cannot be read as map<long>",),
    ),
    Case(
        "writer-union-branch-unreadable",
        ev(field("x", "string")),
        ev(field("x", ["null", "string"])),
        ("Ev.x: writer union branch null: the writer's null cannot be read as string",),
    ),
    Case(
        "no-reader-branch-matches",
        ev(field("x", ["null", "string"])),
        ev(field("x", "int")),
        ("Ev.x: int matches no branch of the reader's union[null, string]",),
    ),
    Case(
        "decimal-scale-changed",
        ev(field("d", decimal(9, 3))),
        ev(field("d", decimal(9, 2))),
        ("Ev.d: logical type changed from decimal(9,2) to decimal(9,3)",),
        fastavro_refuses=False,
    ),
    Case(
        "logical-type-added",
        ev(field("u", UUID)),
        ev(field("u", "string")),
        ("Ev.u: logical type changed from none (string) to string (uuid)",),
        fastavro_refuses=False,
    ),
    Case(
        "logical-type-dropped",
        ev(field("d", "long")),
        ev(field("d", DATE)),
        ("Ev.d: logical type changed from int (date) to none (long)",),
        fastavro_refuses=False,
    ),
    Case(
        "nested-path",
        record(
            "Deposited",
            field("lines", {"type": "array", "items": record("Line", field("sku", "long"), field("qty", "int"))}),
        ),
        record("Deposited", field("lines", {"type": "array", "items": LINE})),
        ("Deposited.lines[].sku: the writer's string cannot be read as long",),
    ),
    Case(
        "nested-field-added-without-default",
        ev(field("line", record("Line", field("sku", "string"), field("qty", "int"), field("price", "double")))),
        ev(field("line", LINE)),
        ("Ev.line.price: the writer has no such field",),
    ),
    Case(
        "union-first-match-then-deep",
        ev(field("x", ["null", record("Line", field("sku", "long"))])),
        ev(field("x", ["null", LINE])),
        ("Ev.x.sku: writer union branch record Line: the writer's string cannot be read as long",),
    ),
    Case(
        "two-problems",
        ev(field("a", "int"), field("b", "string")),
        ev(field("a", "long")),
        ("Ev.a: the writer's long cannot be read as int", "Ev.b: the writer has no such field"),
    ),
    Case(
        "invalid-writer",
        ev(field("x", "long")),
        ev(field("x", "no-such-type")),
        ("the writer schema is not a valid Avro schema",),
        fastavro_refuses=False,
    ),
]
