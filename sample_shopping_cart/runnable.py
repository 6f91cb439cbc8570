"""Commands printed for the user to copy: they must run as printed, from where the user is.

A virtual environment that was not activated is not on ``PATH``, so a bare ``eventsourcing`` would
be "command not found": name the console script by its path (relative when shorter), or the
running interpreter with ``-m`` when the script is not installed beside it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys


def console_script(name: str, module: str) -> list[str]:
    """The start of a command line running console script ``name`` (else ``python -m module``)."""
    script = os.path.join(os.path.dirname(os.path.abspath(sys.executable)), name)
    if os.path.isfile(script) and os.access(script, os.X_OK):
        return [name] if _on_path(name, script) else [shortest_path(script)]
    return [*python(), "-m", module]


def python() -> list[str]:
    """The running interpreter: its environment, not whichever ``python`` comes first on ``PATH``."""
    interpreter = os.path.abspath(sys.executable)
    for name in ("python", "python3"):
        if _on_path(name, interpreter):
            return [name]
    return [shortest_path(interpreter)]


def shortest_path(path: str) -> str:
    """``path`` relative to the working directory when that is shorter; always usable as a command."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path
    if len(relative) >= len(path):
        return path
    return relative if os.sep in relative else os.path.join(os.curdir, relative)


def join(argv: list[str]) -> str:
    return shlex.join(argv)


def _on_path(name: str, path: str) -> bool:
    # Paths compared as they are, symlinks not followed: a venv's python is a link to the system's,
    # yet only the venv's sees the venv's packages.
    found = shutil.which(name)
    return found is not None and os.path.abspath(found) == path
