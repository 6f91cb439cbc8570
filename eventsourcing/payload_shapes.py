"""What an event class's fields can hold, as far as reading a payload back is concerned.

`EventMapper.encode` decodes every payload once before an append to prove that it reads back
equal (docs/stores.md, "What an append refuses"). That costs about as much as the encoding, so a
codec may say, from the class's `Shape` and the bytes it wrote, that a payload cannot fail to read
back (``Codec.may_differ``): the check then runs only where it can find something.

A class is *strict* when its pydantic core schema uses only types whose values a codec writes and
reads back exactly or refuses to write (str, int, bool, Decimal, UUID, enums, dates and times,
lists, dicts, nested models...). Anything else (``Any``, unions other than ``X | None``, recursive
models, custom validators or serializers, unknown types) makes it *loose*, and every payload of a
loose class is checked.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_STRICT = frozenset(
    {
        "model",
        "model-fields",
        "model-field",
        "default",
        "nullable",
        "str",
        "int",
        "bool",
        "decimal",
        "float",
        "datetime",
        "date",
        "time",
        "timedelta",
        "uuid",
        "enum",
        "literal",
        "list",
        "tuple",
        "set",
        "frozenset",
        "dict",
    }
)
_SKIP = frozenset({"cls", "metadata", "ref", "model_name", "title", "cls_name"})


@dataclass(frozen=True, slots=True)
class Shape:
    loose: bool
    """Some field has a type outside the strict set: every payload is checked."""
    floats: bool
    """Some field is a float (NaN and infinities do not read back equal, or at all)."""


@functools.cache
def shape_of(cls: type) -> Shape:
    schema = getattr(cls, "__pydantic_core_schema__", None)
    if not isinstance(schema, dict):
        return Shape(loose=True, floats=True)
    types = set(_types(schema))
    loose = not types <= _STRICT or _decimal_allows_nan(schema)
    return Shape(loose=loose, floats="float" in types)


def _types(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        kind = node.get("type")
        if isinstance(kind, str):
            yield kind
        for key, value in node.items():
            if key not in _SKIP:
                yield from _types(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from _types(value)


def _decimal_allows_nan(node: Any) -> bool:
    if isinstance(node, dict):
        if node.get("type") == "decimal" and node.get("allow_inf_nan"):
            return True
        return any(_decimal_allows_nan(v) for k, v in node.items() if k not in _SKIP)
    if isinstance(node, list | tuple):
        return any(_decimal_allows_nan(v) for v in node)
    return False
