"""How the CLI fails: one line on stderr (``error: ...``) and an exit code that says what kind of failure.

Every exception a command lets escape is classified here, in one place; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import enum

from eventsourcing.errors import (
    AggregateNotFound,
    ConfigurationError,
    EventSourcingError,
    InvalidTimestamp,
    SerializationError,
    StoreError,
    StoreUnavailable,
)


class ExitCode(enum.IntEnum):
    OK = 0
    FAILURE = 1
    """Anything else: a backend error, an --app module that raised while importing, a bug."""
    USAGE = 2
    """The command line is wrong: unknown option, malformed timestamp or URL, an --app module that does not exist."""
    NOT_FOUND = 3
    """The aggregate type, stream, version or point in time does not exist."""
    STORE_UNAVAILABLE = 4
    """The store cannot be reached or opened (no such database file, connection refused, ...)."""
    BAD_DATA = 5
    """Stored data cannot be decoded: unknown event type, corrupt payload, schema version without upcaster."""
    INTERRUPTED = 130
    """Ctrl-C (except for ``events --follow``, where it is the normal way to stop: exit 0)."""


class CLIError(Exception):
    """A failure the CLI itself detected, with the exit code to use."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILURE) -> None:
        super().__init__(message)
        self.code = code


class UsageError(CLIError):
    def __init__(self, message: str) -> None:
        super().__init__(message, ExitCode.USAGE)


class NotFound(CLIError):
    def __init__(self, message: str) -> None:
        super().__init__(message, ExitCode.NOT_FOUND)


class Unavailable(CLIError):
    def __init__(self, message: str) -> None:
        super().__init__(message, ExitCode.STORE_UNAVAILABLE)


def classify(err: BaseException) -> tuple[ExitCode, str]:
    """The exit code and the one-line message for an exception that ended a command."""
    if isinstance(err, CLIError):
        return err.code, one_line(str(err))
    if isinstance(err, KeyboardInterrupt) or type(err).__name__ == "Abort":  # click turns Ctrl-C into Abort
        return ExitCode.INTERRUPTED, "interrupted"
    if _is_click_usage_error(err):
        return ExitCode.USAGE, one_line(err.format_message()) + _help_hint(err)  # type: ignore[attr-defined]
    code = ExitCode.FAILURE
    if isinstance(err, AggregateNotFound):
        code = ExitCode.NOT_FOUND
    elif isinstance(err, StoreUnavailable):
        code = ExitCode.STORE_UNAVAILABLE
    elif isinstance(err, InvalidTimestamp | ConfigurationError):
        code = ExitCode.USAGE
    elif isinstance(err, SerializationError):
        code = ExitCode.BAD_DATA
    message = one_line(str(err)) or type(err).__name__
    if isinstance(err, SerializationError) and "--app" not in message:
        message += " (is the module that declares it passed with --app?)"
    if not isinstance(err, EventSourcingError | StoreError):
        message = f"unexpected {type(err).__name__}: {message} (run with --debug for the traceback)"
    return code, message


def one_line(message: str) -> str:
    """Collapse a message to one line: errors from drivers and pydantic can span several."""
    return " ".join(part.strip() for part in message.strip().splitlines() if part.strip())


def _is_click_usage_error(err: BaseException) -> bool:
    # typer vendors click in recent releases and depends on it in older ones: recognise both by shape.
    return any(cls.__name__ in ("UsageError", "BadParameter") for cls in type(err).__mro__) and hasattr(
        err, "format_message"
    )


def _help_hint(err: BaseException) -> str:
    ctx = getattr(err, "ctx", None)
    path = getattr(ctx, "command_path", None) if ctx is not None else None
    return f" (see `{path} --help`)" if path else ""
