"""Refuse to run beside pyeventsourcing, which installs the same top-level package, `eventsourcing`.

Python has one folder per top-level package: installing both distributions merges them into one
`eventsourcing/` folder (the second install overwrites the first one's ``__init__.py``, and
uninstalling either deletes it for both). No installer check can prevent that, because installing
a wheel runs no code; so every entry point of this package checks at import time and fails with one
sentence that says what to do. The check costs a directory listing of site-packages.
"""

import sys
from pathlib import Path

MESSAGE = (
    "pyeventsourcing (the PyPI distribution 'eventsourcing') is installed in the same environment as "
    "async-eventsourcing; both install the import package 'eventsourcing', so neither works: run "
    "'pip uninstall -y eventsourcing async-eventsourcing', then install async-eventsourcing alone "
    "(keep pyeventsourcing in a virtual environment of its own)"
)

# Modules of pyeventsourcing 9.x that this package does not have: present means the folders merged.
_FOREIGN_MODULES = ("application.py", "persistence.py", "domain.py", "system.py")


class CoinstalledPyEventSourcing(ImportError):
    """pyeventsourcing shares this environment (see `MESSAGE`)."""


def refuse_pyeventsourcing() -> None:
    package = Path(__file__).parent
    merged = any((package / name).exists() for name in _FOREIGN_MODULES)
    if merged or any(package.parent.glob("eventsourcing-*.dist-info")):
        if Path(sys.argv[0]).name == "eventsourcing":  # the console script: one line, not a traceback
            print(f"error: {MESSAGE}", file=sys.stderr)
            raise SystemExit(2)
        raise CoinstalledPyEventSourcing(MESSAGE)
