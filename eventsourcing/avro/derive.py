"""The Avro schema of a `DomainEvent` class at its schema version, derived from its pydantic fields.

=============================================  ==========================================================
Python field type                              Avro
=============================================  ==========================================================
``str`` / ``int`` / ``float`` / ``bool``       ``string`` / ``long`` / ``double`` / ``boolean``
``bytes``                                      ``bytes``
``Decimal`` with ``max_digits`` and            ``bytes``, logical ``decimal`` (precision = max_digits,
``decimal_places`` (``Field``, condecimal)     scale = decimal_places)
``Decimal`` otherwise                          ``string`` (exact, any size), ``"java-class": "java.math.BigDecimal"``
``datetime``, ``AwareDatetime``                ``long``, logical ``timestamp-micros`` (UTC; naive refused on write)
``date``                                       ``int``, logical ``date``
``UUID``                                       ``string``, logical ``uuid``
``Enum`` with str values                       ``enum``: symbols are the values; the default is what ``_missing_`` gives
``Enum`` with int values                       ``long``
``X | None``                                   ``["null", X]`` (``[X, "null"]`` when the default is not None)
other unions                                   a union of the branches (their Avro types must differ)
``Literal`` of str / int / bool                ``string`` / ``long`` / ``boolean``
``list``/``set``/``frozenset``/``tuple[X, ...]``  ``array``
``dict[str, X]``, ``Mapping[str, X]``          ``map``
a nested ``BaseModel``                         a ``record`` named after the class, defined once, then referenced
=============================================  ==========================================================

Anything else raises `UnmappableType` naming the event type, the field path and the type. A field's
default becomes its Avro default when it can be written as one (a ``default_factory`` only when it
is ``list``, ``dict``, ``set``, ``frozenset`` or ``tuple``: others are not constants).
"""

from __future__ import annotations

import collections.abc
import datetime as dt
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from uuid import UUID

import pydantic
from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo

from eventsourcing.avro.defaults import Unrepresentable, to_avro
from eventsourcing.avro.errors import UnmappableType
from eventsourcing.avro.names import avro_name, event_fullname, event_namespace, event_record_name, is_avro_name
from eventsourcing.avro.nodes import Schema, kind, resolve, zero_width
from eventsourcing.events import DomainEvent

EVENT_TYPE_KEY = "eventsourcing.event_type"
"""The attribute of an event schema that names its event type (kept with the schema; ignored by Avro)."""
SCHEMA_VERSION_KEY = "eventsourcing.schema_version"
"""The attribute of an event schema that holds the class's ``schema_version``."""

Convert = Callable[[Any], Any]

_CONSTANT_FACTORIES: tuple[object, ...] = (list, dict, set, frozenset, tuple)
_ARRAYS: tuple[object, ...] = (list, set, frozenset, collections.abc.Sequence, collections.abc.Set)
_MAPS: tuple[object, ...] = (dict, collections.abc.Mapping)
_UNKNOWN_SYMBOL = "\x00a symbol no enum has"
_TIMESTAMP = {"type": "long", "logicalType": "timestamp-micros"}
_SIMPLE: dict[object, Schema] = {
    str: "string",
    bool: "boolean",
    int: "long",
    float: "double",
    bytes: "bytes",
    dt.date: {"type": "int", "logicalType": "date"},
    UUID: {"type": "string", "logicalType": "uuid"},
}


@dataclass(frozen=True, slots=True)
class EventSchema:
    """An event class's Avro schema and how to turn ``event.model_dump()`` into what fastavro writes."""

    event_type: str
    schema_version: int
    schema: dict[str, Any]
    prepare: Convert | None
    """Applied to ``model_dump()``'s dict (enum members to values, Decimals to strings...); None: nothing to do."""
    flat: bool
    """No nested models: the event's own ``__dict__`` has the values ``model_dump()`` would give (without a copy)."""


def derive(cls: type[DomainEvent]) -> EventSchema:
    """The schema of ``cls`` at ``cls.schema_version``. Raises `UnmappableType`."""
    return _Deriver(cls).event()


def avro_schema(cls: type[DomainEvent]) -> dict[str, Any]:
    """Just the Avro schema of ``cls`` (JSON data, ready for ``json.dumps`` or a schema registry)."""
    return derive(cls).schema


class _Deriver:
    def __init__(self, cls: type[DomainEvent]) -> None:
        self.cls = cls
        self.event_type = cls.event_type
        self.owners: dict[str, object] = {}  # Avro name -> the Python type it was given to
        self.definitions: dict[str, Schema] = {}  # Avro name -> its schema, for defaults of references
        self.converters: dict[str, Convert | None] = {}
        self.open: set[str] = set()  # records being defined (a reference to one is recursion)

    def event(self) -> EventSchema:
        cls, name = self.cls, event_record_name(self.event_type)
        self._claim(name, cls, "")
        self.open.add(name)
        fields, prepare = self._fields(cls, "")
        schema: dict[str, Any] = {
            "type": "record",
            "name": name,
            "namespace": event_namespace(self.event_type, cls.schema_version),
        }
        aliases = sorted(
            {event_fullname(alias, v) for alias in cls.aliases for v in range(1, cls.schema_version + 1)}
            - {event_fullname(self.event_type, cls.schema_version)}
        )
        if aliases:
            schema["aliases"] = aliases
        schema[EVENT_TYPE_KEY] = self.event_type
        schema[SCHEMA_VERSION_KEY] = cls.schema_version
        schema["fields"] = fields
        flat = not any(
            isinstance(owner, type) and issubclass(owner, BaseModel)
            for owner in self.owners.values()
            if owner is not cls
        )
        return EventSchema(self.event_type, cls.schema_version, schema, prepare, flat)

    # -- records and fields ------------------------------------------------------------------------

    def _fields(self, model: type[BaseModel], path: str) -> tuple[list[dict[str, Any]], Convert | None]:
        fields: list[dict[str, Any]] = []
        steps: list[tuple[str, Convert]] = []
        for name, info in model.model_fields.items():
            where = f"{path}.{name}" if path else name
            if not is_avro_name(name):
                raise UnmappableType(self.event_type, where, model, "the field name is not a valid Avro name")
            annotation = info.rebuild_annotation()
            schema, convert = self._type(annotation, where)
            field: dict[str, Any] = {"name": name, "type": schema}
            if info.description:
                field["doc"] = info.description
            default = self._default(info, annotation, schema, convert)
            if default is not None:
                field["type"], field["default"] = default
            fields.append(field)
            if convert is not None:
                steps.append((name, convert))
        return fields, _record_converter(steps)

    def _default(
        self, info: FieldInfo, annotation: Any, schema: Schema, convert: Convert | None
    ) -> tuple[Schema, Any] | None:
        """(the field's schema, its Avro default), the union reordered so the default's branch is first."""
        if info.is_required():
            return None
        if info.default_factory is not None:
            if info.default_factory not in _CONSTANT_FACTORIES:
                return None
            value: Any = info.default_factory()  # type: ignore[call-arg]
        else:
            value = info.default
        try:
            adapter: TypeAdapter[Any] = TypeAdapter(annotation)
            datum = adapter.dump_python(adapter.validate_python(value))
            if convert is not None:
                datum = convert(datum)
        except (pydantic.ValidationError, ValueError, TypeError):
            return None  # a default that does not validate as its own field is no Avro default
        branches = schema if isinstance(schema, list) else [schema]
        for i, branch in enumerate(branches):
            try:
                avro = to_avro(branch, datum, self.definitions)
            except Unrepresentable:
                continue
            if not isinstance(schema, list):
                return schema, avro
            return [branch, *branches[:i], *branches[i + 1 :]], avro
        return None

    def _record(self, model: type[BaseModel], path: str) -> tuple[Schema, Convert | None]:
        name = avro_name(model.__name__)
        if self._claim(name, model, path):
            return name, self.converters[name]
        self.open.add(name)
        fields, convert = self._fields(model, path)
        self.open.discard(name)
        schema = {"type": "record", "name": name, "fields": fields}
        self.definitions[name], self.converters[name] = schema, convert
        return schema, convert

    def _claim(self, name: str, owner: object, path: str) -> bool:
        """Give ``name`` to ``owner``; True if it already has it (then a reference to it is enough)."""
        existing = self.owners.get(name)
        if existing is None:
            self.owners[name] = owner
            return False
        if existing is not owner:
            raise UnmappableType(
                self.event_type,
                path,
                owner,
                f"the Avro name {name!r} is already taken in this event by {_describe(existing)}; "
                "named types need distinct names (rename one of the classes)",
            )
        if name in self.open:
            raise UnmappableType(
                self.event_type,
                path,
                owner,
                "the model contains itself; recursive types are not supported (corrupt bytes could nest "
                "them without bound)",
            )
        return True

    # -- types ---------------------------------------------------------------------------------------

    def _type(self, tp: Any, path: str, metadata: tuple[Any, ...] = ()) -> tuple[Schema, Convert | None]:
        origin, args = get_origin(tp), get_args(tp)
        if origin is Annotated:
            return self._type(args[0], path, (*metadata, *tp.__metadata__))
        if tp is None or tp is type(None):
            return "null", None
        if origin is Union or origin is types.UnionType:
            return self._union(tp, args, path)
        if origin is Literal:
            return self._literal(tp, args, path)
        if origin in _ARRAYS or (origin is tuple and len(args) == 2 and args[1] is Ellipsis):
            return self._array(tp, args[0], path)
        if origin in _MAPS:
            return self._map(tp, args, path)
        if origin is None and isinstance(tp, type):
            if issubclass(tp, Enum):
                return self._enum(tp, path)
            if issubclass(tp, BaseModel):
                return self._record(tp, path)
            if tp is Decimal:
                return _decimal(metadata)
            if tp is dt.datetime or tp is pydantic.AwareDatetime:
                return dict(_TIMESTAMP), _aware
            if tp in _SIMPLE:
                simple = _SIMPLE[tp]
                return (dict(simple) if isinstance(simple, dict) else simple), None
        raise UnmappableType(self.event_type, path, tp, _hint(tp))

    def _union(self, tp: Any, args: Iterable[Any], path: str) -> tuple[Schema, Convert | None]:
        branches: list[Schema] = []
        dispatch: list[tuple[Callable[[Any], bool], Convert]] = []
        seen: dict[str, Any] = {}
        for arg in args:
            schema, convert = self._type(arg, path)
            key = _branch_key(schema, self.definitions)
            if key in seen:
                raise UnmappableType(
                    self.event_type,
                    path,
                    tp,
                    f"{_name(seen[key])} and {_name(arg)} are both an Avro {key}; "
                    "a union's branches must differ in Avro type",
                )
            seen[key] = arg
            branches.append(schema)
            if convert is not None:
                dispatch.append((_accepts(arg), convert))
        branches.sort(key=lambda b: b != "null")  # null first; a non-None default reorders (see _default)
        if not dispatch:
            return branches, None

        def convert_union(value: Any) -> Any:
            for accepts, convert in dispatch:
                if accepts(value):
                    return convert(value)
            return value

        return branches, convert_union

    def _literal(self, tp: Any, values: tuple[Any, ...], path: str) -> tuple[Schema, Convert | None]:
        if all(isinstance(v, bool) for v in values):
            return "boolean", None
        if all(isinstance(v, int) and not isinstance(v, bool | Enum) for v in values):
            return "long", None
        if all(isinstance(v, str) and not isinstance(v, Enum) for v in values):
            return "string", None
        raise UnmappableType(self.event_type, path, tp, "only Literals of str, of int or of bool values are mapped")

    def _array(self, tp: Any, item: Any, path: str) -> tuple[Schema, Convert | None]:
        schema, convert = self._type(item, f"{path}[]")
        if zero_width(schema, self.definitions):
            raise UnmappableType(
                self.event_type,
                path,
                tp,
                "its items encode to zero bytes, so a corrupt length could never be bounded when decoding",
            )
        if convert is None:
            return {"type": "array", "items": schema}, None
        items = convert
        return {"type": "array", "items": schema}, lambda values: [items(v) for v in values]

    def _map(self, tp: Any, args: tuple[Any, ...], path: str) -> tuple[Schema, Convert | None]:
        key = args[0] if args else None
        while get_origin(key) is Annotated:
            key = get_args(key)[0]
        if key is not str:
            raise UnmappableType(self.event_type, path, tp, "Avro maps have string keys (use dict[str, ...])")
        schema, convert = self._type(args[1], f"{path}{{}}")
        if convert is None:
            return {"type": "map", "values": schema}, None
        values = convert
        return {"type": "map", "values": schema}, lambda mapping: {k: values(v) for k, v in mapping.items()}

    def _enum(self, tp: type[Enum], path: str) -> tuple[Schema, Convert | None]:
        values = [member.value for member in tp]
        if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return "long", _enum_value
        if not values or not all(isinstance(v, str) for v in values):
            raise UnmappableType(
                self.event_type, path, tp, "an Avro enum needs str values (enums of int values map to long)"
            )
        bad = [v for v in values if not is_avro_name(v)]
        if bad:
            raise UnmappableType(
                self.event_type,
                path,
                tp,
                f"the values {bad} are not valid Avro enum symbols ([A-Za-z_][A-Za-z0-9_]*); "
                "the members' values are the symbols",
            )
        name = avro_name(tp.__name__)
        if self._claim(name, tp, path):
            return name, _enum_value
        schema: dict[str, Any] = {"type": "enum", "name": name, "symbols": values}
        fallback = _fallback(tp)
        if fallback is not None:
            schema["default"] = fallback.value
        self.definitions[name] = schema
        return schema, _enum_value


# -- conversions applied on write -----------------------------------------------------------------


def _record_converter(steps: list[tuple[str, Convert]]) -> Convert | None:
    if not steps:
        return None

    def convert_record(record: dict[str, Any]) -> dict[str, Any]:
        for name, convert in steps:  # model_dump() made a fresh dict: change it in place
            record[name] = convert(record[name])
        return record

    return convert_record


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _decimal_string(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def _aware(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: Avro timestamps are instants; give it a timezone")
        try:  # stored as UTC microseconds: an instant outside the calendar in UTC would never decode
            return value.astimezone(dt.UTC)
        except OverflowError:
            raise ValueError(f"datetime {value.isoformat()} is outside the range of UTC datetimes") from None
    return value


def _fallback(tp: type[Enum]) -> Enum | None:
    """The member an enum's own ``_missing_`` hook maps unknown values to: the Avro enum's default symbol.

    The same fallback then applies whichever codec stored the value (pydantic calls ``_missing_`` too).
    """
    if getattr(tp._missing_, "__func__", None) is getattr(Enum._missing_, "__func__", None):
        return None
    try:
        member = tp._missing_(_UNKNOWN_SYMBOL)
    except Exception:  # a hook that only knows its own kind of values: no fallback
        return None
    return member if isinstance(member, tp) else None


def _decimal(metadata: tuple[Any, ...]) -> tuple[Schema, Convert | None]:
    precision = scale = None
    for item in metadata:
        for constraint in item.metadata if isinstance(item, FieldInfo) else (item,):
            precision = getattr(constraint, "max_digits", None) or precision
            places = getattr(constraint, "decimal_places", None)
            scale = places if places is not None else scale
    if precision is not None and scale is not None and 0 <= scale <= precision:
        return {"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale}, None
    return {"type": "string", "java-class": "java.math.BigDecimal"}, _decimal_string


def _accepts(tp: Any) -> Callable[[Any], bool]:
    """Which dumped values belong to the union branch of ``tp`` (to pick the branch's conversion)."""
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    origin = get_origin(tp)
    if origin in _ARRAYS or origin is tuple:
        return lambda value: isinstance(value, list | tuple | set | frozenset)
    if origin in _MAPS:
        return lambda value: isinstance(value, dict)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        names = set(tp.model_fields)
        return lambda value: isinstance(value, dict) and value.keys() == names
    if tp is pydantic.AwareDatetime:
        return lambda value: isinstance(value, dt.datetime)
    if isinstance(tp, type):
        cls = tp
        return lambda value: isinstance(value, cls)
    return lambda value: False


def _branch_key(schema: Schema, definitions: dict[str, Schema]) -> str:
    """What Avro tells union branches apart by: the type, or the name of a named type."""
    node = resolve(schema, definitions)
    if isinstance(node, dict) and "name" in node:
        return f"{node['type']} {node['name']}"
    return kind(node) if not isinstance(node, list) else "union"


def _describe(tp: object) -> str:
    return f"{tp.__module__}.{tp.__qualname__}" if isinstance(tp, type) else repr(tp)


def _name(tp: object) -> str:
    return tp.__name__ if isinstance(tp, type) else repr(tp).replace("typing.", "")


def _hint(tp: Any) -> str:
    if tp is dt.time or tp is dt.timedelta:
        return "times of day and durations have no mapping (store seconds or ISO text in a str or int field)"
    if tp in (list, dict, set, frozenset, tuple) or get_origin(tp) is tuple:
        return "give collections their item types (list[X], dict[str, X], tuple[X, ...])"
    if tp is Any or tp is object:
        return "an untyped field has no schema; declare its type"
    return (
        "supported are str, int, float, bool, bytes, Decimal, datetime, date, UUID, enums, Literal, "
        "nested models, unions (X | None), list/set/tuple[X, ...] and dict[str, X]"
    )
