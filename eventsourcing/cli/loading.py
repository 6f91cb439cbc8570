"""``--app``: import the user's modules so that their aggregate and event classes register themselves.

Stored data names types; only classes declared in this process can answer to those names, so the
CLI must import the application's code first. A module name is imported with the current directory
on ``sys.path``; a path to a ``.py`` file is loaded from that file (its directory goes on
``sys.path`` too, so its own imports of sibling modules work).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from eventsourcing.aggregate import Aggregate
from eventsourcing.cli.failures import CLIError, ExitCode, NotFound, UsageError
from eventsourcing.registry import aggregates_registry


def load_apps(names: Iterable[str]) -> None:
    for name in names:
        load_app(name)


def load_app(name: str) -> None:
    _put_on_path(os.getcwd())
    if name.endswith(".py") or os.sep in name or "/" in name:
        _load_file(Path(name))
        return
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name is not None and (name == err.name or name.startswith(err.name + ".")):
            raise UsageError(
                f"--app {name}: no module named {err.name!r} (run from the directory that contains it, "
                "or pass a path to a .py file)"
            ) from err
        raise _import_failed(name, err) from err
    except Exception as err:
        raise _import_failed(name, err) from err


def _load_file(path: Path) -> None:
    if not path.is_file():
        raise UsageError(f"--app {path}: no such file")
    path = path.resolve()
    _put_on_path(str(path.parent))
    module_name = path.stem
    existing = sys.modules.get(module_name)
    if existing is not None and getattr(existing, "__file__", None) == str(path):
        return
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"--app {path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        del sys.modules[module_name]
        raise _import_failed(str(path), err) from err


def _put_on_path(directory: str) -> None:
    if directory not in sys.path and not (directory == os.getcwd() and "" in sys.path):
        sys.path.insert(0, directory)


def _import_failed(name: str, err: Exception) -> CLIError:
    return CLIError(f"--app {name}: importing it failed: {type(err).__name__}: {err}", ExitCode.FAILURE)


def resolve_aggregate(type_name: str) -> type[Aggregate]:
    """The aggregate class registered under ``type_name`` (its stable type name, e.g. ``"ShoppingCart"``)."""
    known = aggregates_registry.names()
    if type_name not in known:
        hint = f"known: {', '.join(known)}" if known else "none is registered: pass the module declaring it with --app"
        raise NotFound(f"unknown aggregate type {type_name!r} ({hint})")
    cls = aggregates_registry.resolve(type_name)
    if not (isinstance(cls, type) and issubclass(cls, Aggregate)):  # pragma: no cover - the registry holds aggregates
        raise NotFound(f"{type_name!r} is not an aggregate type")
    return cls
