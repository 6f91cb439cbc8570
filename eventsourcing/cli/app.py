"""The ``eventsourcing`` command: the typer application and the one place where failures become exit codes."""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as distribution_version
from typing import Annotated, NoReturn

import typer

from eventsourcing.cli.commands import events, init, projections, replay, schemas, snapshots
from eventsourcing.cli.failures import ExitCode, classify

HELP = """Replay aggregates to any point in time, list events, manage snapshots and projections, create schemas.

Exit codes: 0 success, 1 failure, 2 usage (bad option, timestamp, URL or --app module), 3 not found
(aggregate type, stream, version, projector, or nothing at that time), 4 store unavailable, 5 stored data that
cannot be decoded, 130 interrupted. Errors are one line on stderr; --debug adds the traceback.
"""

app = typer.Typer(
    name="eventsourcing",
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain help: stable text that docs/cli.md embeds and a test compares
    pretty_exceptions_enable=False,
)
app.command("replay", no_args_is_help=True)(replay.command)
app.command("events", no_args_is_help=True)(events.command)
app.add_typer(snapshots.app, name="snapshots")
app.add_typer(projections.app, name="projections")
app.add_typer(schemas.app, name="schemas")
app.command("init", no_args_is_help=True)(init.command)

_debug = False


def _show_version(value: bool) -> None:
    if value:
        try:
            found = distribution_version("async-eventsourcing")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree without installing
            found = "unknown"
        typer.echo(f"eventsourcing (async-eventsourcing) {found}")
        raise typer.Exit()


@app.callback()
def root(
    debug: Annotated[
        bool, typer.Option("--debug", envvar="EVENTSOURCING_DEBUG", help="Show tracebacks of failures.")
    ] = False,
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit."),
    ] = None,
) -> None:
    global _debug
    _debug = _debug or debug


def run(argv: Sequence[str] | None = None) -> NoReturn:
    """Run one command and exit: 0, or an `ExitCode` after one ``error: ...`` line on stderr."""
    global _debug
    args = list(sys.argv[1:] if argv is None else argv)
    _debug = "--debug" in args or os.environ.get("EVENTSOURCING_DEBUG", "") not in ("", "0", "false")
    if not _debug:
        # aiokafka logs what it retries or gives up on (Python's last-resort handler would print it on
        # stderr); the command reports the failure that matters itself, in one line.
        logging.getLogger("aiokafka").addHandler(logging.NullHandler())
    try:
        result = app(args=args, prog_name="eventsourcing", standalone_mode=False)
    except SystemExit:
        raise
    except BrokenPipeError:
        _quiet_stdout()  # the reader went away (`| head`): not an error
        sys.exit(ExitCode.OK)
    except BaseException as err:  # the boundary that turns every failure into one line
        if type(err).__name__ == "NoArgsIsHelpError":  # `eventsourcing snapshots` alone: the help, as click does
            sys.stderr.write(err.format_message() + "\n")  # type: ignore[attr-defined]
            sys.exit(ExitCode.USAGE)
        code, message = classify(err)
        if _debug:
            traceback.print_exception(err)
        sys.stderr.write(f"error: {message}\n")
        sys.stderr.flush()
        sys.exit(code)
    sys.exit(result if isinstance(result, int) else ExitCode.OK)


def _quiet_stdout() -> None:
    # Python would complain again when flushing stdout at exit; point it at /dev/null instead.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
