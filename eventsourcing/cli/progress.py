"""Progress on stderr for long work (a rich progress bar), so stdout stays clean for the result."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from eventsourcing.cli.rendering import stderr
from eventsourcing.cli.replaying import LONG_REPLAY, Advance, Progress, no_progress


def replay_progress(show: bool | None, description: str) -> Progress:
    """``show``: True always, False never, None when stderr is a terminal and the replay is long."""

    def factory(total: int) -> AbstractContextManager[Advance]:
        wanted = show if show is not None else (total > LONG_REPLAY and sys.stderr.isatty())
        return _bar(total, description) if wanted else no_progress(total)

    return factory


@contextmanager
def _bar(total: int, description: str) -> Iterator[Advance]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = stderr()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=console.is_terminal) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
