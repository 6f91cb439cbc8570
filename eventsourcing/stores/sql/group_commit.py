"""`GroupCommit`: appends from concurrent tasks written together, one transaction (one fsync) a group.

A store's append submits its request and awaits its own outcome. The first request to arrive
schedules a drain; every request submitted before the drain runs — the other writer tasks that
were ready to run in the same turn of the event loop — joins it, and the drain writes them all in
one transaction, each with its own expectation check (a savepoint each: one that conflicts is
rolled back alone, the others commit) and its own outcome. Requests that arrive while a group is
being written form the next group.

The SQLite store runs its statements inline on the event loop, so while a group commits no other
task runs: the tasks woken by a commit (its writers, resumed) load, decide and submit their next
appends before the next drain runs, and those go together. A lone writer pays one turn of the
loop (the drain is a task), some 10-20 µs, against an fsync of a millisecond or more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

R = TypeVar("R")
Out = TypeVar("Out")

__all__ = ["GroupCommit"]


class GroupCommit(Generic[R, Out]):
    """Groups requests submitted in the same turns of the loop; ``write(requests)`` returns one
    outcome per request, in order, or raises (then every request of the group gets the error)."""

    def __init__(self, write: Callable[[list[R]], Awaitable[list[Out]]]) -> None:
        self._write = write
        self._queue: list[tuple[R, asyncio.Future[Out]]] = []
        self._drain_task: asyncio.Task[None] | None = None
        self.groups = 0
        self.requests = 0
        """Groups written and requests in them (``requests / groups``: the mean group size)."""

    async def submit(self, request: R) -> Out:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Out] = loop.create_future()
        self._queue.append((request, future))
        if self._drain_task is None:
            self._drain_task = loop.create_task(self._drain())
        # Cancelling the caller does not withdraw the request: once the drain has taken it, it is
        # written (its outcome unknown to the cancelled caller, as for any cancelled write).
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        try:
            while self._queue:
                group, self._queue = self._queue, []
                self.groups += 1
                self.requests += len(group)
                try:
                    outcomes = await self._write([request for request, _ in group])
                except Exception as err:
                    for _, future in group:
                        if not future.done():
                            future.set_exception(err)
                    continue
                except BaseException:  # cancelled (the loop is closing): nobody will hear of these
                    for _, future in group:
                        future.cancel()
                    raise
                for (_, future), outcome in zip(group, outcomes, strict=True):
                    if not future.done():
                        future.set_result(outcome)
        finally:
            self._drain_task = None
            left, self._queue = self._queue, []
            for _, future in left:  # only when the drain was cancelled
                future.cancel()
