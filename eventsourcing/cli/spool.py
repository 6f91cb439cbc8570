"""`EventSpool`: the events a replay lists after the state, kept in bounded memory.

A replay prints the aggregate's state first and the events it applied after it, but knows the
state only once every event is applied. Holding 200,000 events (and then a table of them) took
~1.4 GB, so beyond a few events (the table's default 50 stay in memory as they are) each event is
rendered to one line as it is applied, written to an anonymous temporary file, and only the file
offsets of the last ``keep`` lines are remembered. Listing then reads the file back, line by line.
"""

from __future__ import annotations

import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import IO

from eventsourcing.events import DomainEvent, RecordedEvent

IN_MEMORY = 1_000
"""Up to this many events to keep are kept as they are; more are rendered to a temporary file."""

Render = Callable[[RecordedEvent[DomainEvent]], str]
"""An event as one line of text (no line break in it)."""


class EventSpool:
    """The last ``keep`` events given to `extend` (all of them with None), as rendered lines."""

    def __init__(self, keep: int | None, render: Render) -> None:
        self.keep = keep
        self._written = 0
        self._render = render
        self._memory: deque[RecordedEvent[DomainEvent]] | None = None
        self._file: IO[bytes] | None = None
        self._starts: deque[int] = deque(maxlen=keep)  # offsets of the kept lines (with `keep` only)
        self._end = 0
        if keep is not None and keep <= IN_MEMORY:
            self._memory = deque(maxlen=keep)

    def extend(self, events: Iterable[RecordedEvent[DomainEvent]]) -> None:
        if self._memory is not None:
            self._memory.extend(events)
            return
        if self._file is None:
            self._file = tempfile.TemporaryFile("w+b")  # noqa: SIM115 - closed by close()
        write, starts, counted = self._file.write, self._starts, self.keep is not None
        for recorded in events:
            line = (self._render(recorded) + "\n").encode()
            if counted:
                starts.append(self._end)
            write(line)
            self._end += len(line)
            self._written += 1

    def __len__(self) -> int:
        if self._memory is not None:
            return len(self._memory)
        return len(self._starts) if self.keep is not None else self._written

    def lines(self) -> Iterable[str]:
        """The kept events' lines, oldest first. Events kept in memory are all rendered before this
        returns (so a renderer that measures them has seen every one); a file is read lazily."""
        if self._memory is not None:
            return [self._render(e) for e in self._memory]
        return self._read()

    def _read(self) -> Iterator[str]:
        if self._file is None or not len(self):
            return
        self._file.flush()
        self._file.seek(self._starts[0] if self.keep is not None else 0)
        for raw in self._file:
            yield raw.decode()[:-1]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
