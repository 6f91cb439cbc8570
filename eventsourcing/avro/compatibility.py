"""Can a reader schema read data written with a writer schema? Avro's schema resolution rules, checked
statically, with a precise path for every problem.

The rules (Avro specification, "Schema Resolution"), and the one place we are stricter:

- records match by unqualified name, or when a reader alias names the writer's record; fields match
  by name or by a reader field's alias. A reader field the writer lacks needs a default; a writer
  field the reader lacks is skipped.
- enums match by name (or alias); a writer symbol the reader lacks needs the reader enum's default.
- fixed: same name and size. Arrays and maps: their items / values, recursively.
- promotions: int → long, float, double; long → float, double; float → double; string ↔ bytes.
- a writer union: every branch must be readable (each may occur in the data). A reader union: the
  first branch that matches the writer's type is used (fastavro's choice too), then resolved
  recursively; none matching is an error.
- logical types must be the same on both sides, and decimals the same precision and scale.
  *Stricter than the spec*, which resolves the underlying types and would let a string be read as
  a uuid or a date as a plain int: the values would change meaning for readers that apply the
  logical type (fastavro applies the writer's, Java the reader's), so we refuse.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from eventsourcing.avro.nodes import NAMED_KINDS, Named, Schema, describe, kind, logical, parse, resolve

PROMOTIONS: dict[str, frozenset[str]] = {
    "int": frozenset({"long", "float", "double"}),
    "long": frozenset({"float", "double"}),
    "float": frozenset({"double"}),
    "string": frozenset({"bytes"}),
    "bytes": frozenset({"string"}),
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a reader cannot read a writer's data: where (``Deposited.lines[].sku``) and why."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def check_schema(reader: Schema, writer: Schema) -> list[Problem]:
    """Every problem with reading data written with ``writer`` using ``reader`` (empty: compatible).

    Paths start at the reader's top-level record name; ``[]`` is an array's items, ``{}`` a map's
    values. Invalid schemas are reported as a problem, not raised.
    """
    try:
        parsed_reader, reader_named = parse(reader)
    except Exception as err:  # fastavro raises several unrelated exception types for bad schemas
        return [Problem("", f"the reader schema is not a valid Avro schema: {type(err).__name__}: {err}")]
    try:
        parsed_writer, writer_named = parse(writer)
    except Exception as err:
        return [Problem("", f"the writer schema is not a valid Avro schema: {type(err).__name__}: {err}")]
    node = resolve(parsed_reader, reader_named)
    root = str(node["name"]).split(".")[-1] if isinstance(node, dict) and "name" in node else ""
    return list(_Checker(writer_named, reader_named).check(parsed_writer, parsed_reader, root))


class _Checker:
    def __init__(self, writer_named: Named, reader_named: Named) -> None:
        self.writer_named = writer_named
        self.reader_named = reader_named
        self.visiting: set[tuple[str, str]] = set()  # record pairs being checked (recursive types)

    def check(self, writer: Schema, reader: Schema, path: str) -> Iterator[Problem]:
        w, r = resolve(writer, self.writer_named), resolve(reader, self.reader_named)
        if isinstance(w, list):
            for branch in w:
                for problem in self.check(branch, r, path):
                    yield Problem(problem.path, f"writer union branch {self._describe_w(branch)}: {problem.message}")
            return
        if isinstance(r, list):
            chosen = next((branch for branch in r if self.matches(w, branch)), None)
            if chosen is None:
                yield Problem(path, f"{describe(w)} matches no branch of the reader's {describe(r)}")
                return
            yield from self.check(w, chosen, path)
            return
        w_kind, r_kind = kind(w), kind(r)
        if w_kind != r_kind and r_kind not in PROMOTIONS.get(w_kind, ()):
            yield Problem(path, f"the writer's {describe(w)} cannot be read as {describe(r)}")
            return
        w_logical, r_logical = logical(w), logical(r)
        if w_logical != r_logical:
            yield Problem(
                path, f"logical type changed from {_logical_text(w, w_logical)} to {_logical_text(r, r_logical)}"
            )
            return
        if r_kind in ("record", "error"):
            yield from self._record(w, r, path)
        elif r_kind == "enum":
            yield from self._enum(w, r, path)
        elif r_kind == "fixed":
            if not self._names_match(w, r):
                yield Problem(path, self._name_message(w, r))
            elif w["size"] != r["size"]:
                yield Problem(path, f"fixed size changed from {w['size']} to {r['size']}")
        elif r_kind == "array":
            yield from self.check(w["items"], r["items"], f"{path}[]")
        elif r_kind == "map":
            yield from self.check(w["values"], r["values"], f"{path}{{}}")

    def matches(self, writer: Schema, reader: Schema) -> bool:
        """The shallow test by which a reader union's branch is chosen (as fastavro and the spec do it)."""
        w, r = resolve(writer, self.writer_named), resolve(reader, self.reader_named)
        if isinstance(w, list) or isinstance(r, list):
            return False
        w_kind, r_kind = kind(w), kind(r)
        if w_kind in NAMED_KINDS or r_kind in NAMED_KINDS:
            if w_kind != r_kind or not self._names_match(w, r):
                return False
            return w_kind != "fixed" or w["size"] == r["size"]
        if w_kind == r_kind == "array":
            return self.matches(w["items"], r["items"])
        if w_kind == r_kind == "map":
            return self.matches(w["values"], r["values"])
        return w_kind == r_kind or r_kind in PROMOTIONS.get(w_kind, ())

    def _record(self, w: dict[str, Any], r: dict[str, Any], path: str) -> Iterator[Problem]:
        if not self._names_match(w, r):
            yield Problem(path, self._name_message(w, r))
            return
        pair = (str(w["name"]), str(r["name"]))
        if pair in self.visiting:
            return
        self.visiting.add(pair)
        try:
            writer_fields = {f["name"]: f for f in w["fields"]}
            for field in r["fields"]:
                where = f"{path}.{field['name']}" if path else str(field["name"])
                names = [field["name"], *field.get("aliases", [])]
                source = next((writer_fields[n] for n in names if n in writer_fields), None)
                if source is not None:
                    yield from self.check(source["type"], field["type"], where)
                elif "default" not in field:
                    yield Problem(where, "the writer has no such field and the reader's field has no default")
        finally:
            self.visiting.discard(pair)

    def _enum(self, w: dict[str, Any], r: dict[str, Any], path: str) -> Iterator[Problem]:
        if not self._names_match(w, r):
            yield Problem(path, self._name_message(w, r))
            return
        missing = [s for s in w["symbols"] if s not in r["symbols"]]
        if missing and "default" not in r:
            yield Problem(
                path,
                f"the writer's symbols {missing} are not in the reader's enum {_short(r['name'])} and it has "
                "no default symbol",
            )

    def _names_match(self, w: dict[str, Any], r: dict[str, Any]) -> bool:
        w_full = str(w["name"])
        r_full = str(r["name"])
        w_short = _short(w_full)
        if w_short == _short(r_full):
            return True
        namespace = r_full.rpartition(".")[0]
        for alias in r.get("aliases", []):
            qualified = alias if "." in alias or not namespace else f"{namespace}.{alias}"
            if w_full in (alias, qualified) or w_short == alias:
                return True
        return False

    def _name_message(self, w: dict[str, Any], r: dict[str, Any]) -> str:
        return (
            f"the writer's {w['type']} {_short(w['name'])} does not match the reader's {r['type']} "
            f"{_short(r['name'])} (names differ and no reader alias names it)"
        )

    def _describe_w(self, branch: Schema) -> str:
        return describe(resolve(branch, self.writer_named))


def _short(name: object) -> str:
    return str(name).split(".")[-1]


def _logical_text(node: Schema, found: tuple[str, Any, Any] | None) -> str:
    if found is None:
        return f"none ({kind(node)})"
    return describe(node)
