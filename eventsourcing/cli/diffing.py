"""What changed between two states: a list of field changes, nested values followed into.

States are compared as JSON data (`rendering.jsonable`: decimals and datetimes as strings, models
as objects). Objects are followed key by key and lists index by index, so a change deep inside a
value is reported at its path (``lines["sku-1"]``, ``items[2].quantity``) rather than as the whole
field; any other difference (a number, a string, or a value that changed kind) is one change.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

Path = tuple[str | int, ...]
Kind = Literal["added", "removed", "changed"]

_MISSING: Any = object()
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Change:
    path: Path
    kind: Kind
    old: Any = None
    new: Any = None

    def record(self) -> dict[str, Any]:
        """The change as a JSON object (``replay --diff --json``)."""
        out: dict[str, Any] = {"path": list(self.path), "field": path_text(self.path), "change": self.kind}
        if self.kind != "added":
            out["old"] = self.old
        if self.kind != "removed":
            out["new"] = self.new
        return out

    def line(self) -> str:
        """The change as one line for people: ``+ lines["pear"]: 1``, ``~ total: "1.00" -> "2.25"``."""
        where = path_text(self.path)
        if self.kind == "added":
            return f"+ {where}: {_show(self.new)}"
        if self.kind == "removed":
            return f"- {where}: {_show(self.old)}"
        return f"~ {where}: {_show(self.old)} -> {_show(self.new)}"


def diff(old: Any, new: Any, path: Path = ()) -> list[Change]:
    """The changes that turn JSON value ``old`` into ``new``, in a stable order (keys as in ``new``, then removed)."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[Change] = []
        for key, value in new.items():
            before = old.get(key, _MISSING)
            if before is _MISSING:
                changes.append(Change((*path, key), "added", new=value))
            else:
                changes.extend(diff(before, value, (*path, key)))
        changes.extend(Change((*path, key), "removed", old=value) for key, value in old.items() if key not in new)
        return changes
    if isinstance(old, list) and isinstance(new, list):
        changes = []
        for index, (before, after) in enumerate(zip(old, new, strict=False)):
            changes.extend(diff(before, after, (*path, index)))
        changes.extend(Change((*path, i), "added", new=value) for i, value in enumerate(new) if i >= len(old))
        changes.extend(Change((*path, i), "removed", old=value) for i, value in enumerate(old) if i >= len(new))
        return changes
    if type(old) is type(new) and old == new:  # 1 and 1.0, or True and 1, are changes of kind
        return []
    return [Change(path, "changed", old=old, new=new)]


def path_text(path: Path) -> str:
    """``lines["sku-1"]``, ``items[2].quantity``: names as attributes, other keys quoted, indexes in brackets."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _NAME.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
