"""Old names kept for one release after a rename: using one warns (`DeprecationWarning`).

A module declares ``__getattr__ = renamed(__name__, {"Old": "New"}, globals())``; the old name then
resolves to the new object, with a warning that names the new one.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any


def renamed(module: str, renames: Mapping[str, str], namespace: Mapping[str, Any]) -> Callable[[str], Any]:
    def __getattr__(name: str) -> Any:
        new = renames.get(name)
        if new is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        warnings.warn(
            f"{module}.{name} is renamed {new}; the old name will be removed in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        return namespace[new]

    return __getattr__
