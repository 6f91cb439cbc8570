"""A writer process for ``test_kafka_restart.py`` (run as a script, not collected), killed and restarted.

    python kafka_restart_worker.py BOOTSTRAP PREFIX INDEX_PATH ACK_FILE OPENED_FILE

Command ``k`` appends 1-3 events to stream ``s{k % 5}``, with event ids derived from ``k`` (so a
retried command resends the same ids). Each acknowledged append is written to ``ACK_FILE`` as a JSON
line and fsync'd before the next command starts, so the file holds exactly what was acknowledged
(a kill may leave a last, partial line, which the test ignores). On start the process resumes after
the last acknowledged command: it first re-sends the next one, which a killed run may or may not
have appended (either way it is stored once). ``OPENED_FILE`` gets one line per start: how many
events the index held and its partitions' next offsets, as found on disk before reading the topics.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
from pathlib import Path
from uuid import NAMESPACE_URL, uuid5

from eventsourcing import DomainEvent, NewEvent
from eventsourcing.stores.kafka import KafkaEventStore
from eventsourcing.stores.kafka.index import KafkaIndex

STREAMS = 5


class Noted(DomainEvent):
    event_type = "it_kafka_restart.noted"
    k: int
    i: int


def command(k: int) -> tuple[str, list[NewEvent]]:
    now = dt.datetime.now(dt.UTC)
    events = [NewEvent(Noted(k=k, i=i), uuid5(NAMESPACE_URL, f"restart/{k}/{i}"), now) for i in range(1 + k % 3)]
    return f"s{k % STREAMS}", events


def acknowledged(ack_file: Path) -> list[dict[str, object]]:
    if not ack_file.exists():
        return []
    rows = []
    for line in ack_file.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:  # the line a kill cut short
            break
    return rows


async def main(bootstrap: str, prefix: str, index: str, ack_file: Path, opened: Path) -> None:
    on_disk = KafkaIndex(index)
    on_disk.open()
    offsets = {part.key: part.next_offset for part in on_disk.partitions.values()}
    with opened.open("a") as out:
        out.write(json.dumps({"events": on_disk.count(), "offsets": offsets}) + "\n")
    on_disk.close()
    done = acknowledged(ack_file)
    k = int(done[-1]["k"]) + 1 if done else 0  # type: ignore[call-overload]
    async with KafkaEventStore(bootstrap, prefix=prefix, partitions=2, index=index) as store:
        with ack_file.open("a") as out:
            while True:
                stream_id, events = command(k)
                version = await store.stream_version(stream_id)
                result = await store.append(stream_id, events, version, stream_type="it_kafka_restart.stream")
                row = {"k": k, "stream": stream_id, "version": result.version, "ids": [str(e.event_id) for e in events]}
                out.write(json.dumps(row) + "\n")
                out.flush()
                os.fsync(out.fileno())
                k += 1


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4]), Path(sys.argv[5])))
