"""Avro names for event types: stable (derived from ``event_type``, never from a module path) and versioned.

``"ShoppingCart.ItemAdded"`` at schema version 2 becomes the record ``ItemAdded`` in the namespace
``ShoppingCart.v2``. The version lives in the namespace, so the unqualified name stays the same
across versions and Avro's name matching (by unqualified name) resolves one version against another,
while every version still has a distinct full name and fingerprint.
"""

from __future__ import annotations

import re

_INVALID = re.compile(r"[^A-Za-z0-9_]")
_VALID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def avro_name(part: str) -> str:
    """``part`` as a valid Avro name component: other characters become ``_``, a leading digit gets ``_``."""
    cleaned = _INVALID.sub("_", part)
    return cleaned if cleaned and not cleaned[0].isdigit() else f"_{cleaned}"


def is_avro_name(text: str) -> bool:
    """True if ``text`` is a valid Avro name (and enum symbol): ``[A-Za-z_][A-Za-z0-9_]*``."""
    return _VALID.fullmatch(text) is not None


def event_namespace(event_type: str, schema_version: int) -> str:
    """``"cart.item_added"``, 3 → ``"cart.v3"``; a name without dots gets just ``"v3"``."""
    parts = [avro_name(p) for p in event_type.split(".")[:-1]]
    return ".".join([*parts, f"v{schema_version}"])


def event_record_name(event_type: str) -> str:
    """The unqualified record name: the last dotted part of the type name, made a valid Avro name."""
    return avro_name(event_type.split(".")[-1])


def event_fullname(event_type: str, schema_version: int) -> str:
    return f"{event_namespace(event_type, schema_version)}.{event_record_name(event_type)}"
