"""The ``eventsourcing`` command line: replay aggregates, list events, manage snapshots, create schemas.

A composition layer on top of the library. ``import eventsourcing`` never imports it, and importing
this package loads nothing but the standard library: typer and rich (dependencies of the base
install) are loaded by `main`, and the ``snapshots`` package only by the commands that use snapshots.
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI (the ``eventsourcing`` console script); exits the process with the command's code."""
    import sys

    from eventsourcing._coinstall import CoinstalledPyEventSourcing, refuse_pyeventsourcing

    try:
        refuse_pyeventsourcing()  # pyeventsourcing may have replaced eventsourcing/__init__.py
        from eventsourcing.cli.app import run
    except CoinstalledPyEventSourcing as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    except ImportError as err:  # typer or rich was uninstalled after async-eventsourcing
        print(
            f"error: the eventsourcing CLI cannot load ({err}): "
            "reinstall it, pip install --force-reinstall async-eventsourcing",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    run(argv)


__all__ = ["main"]
