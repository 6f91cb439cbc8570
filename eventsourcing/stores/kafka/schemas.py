"""The Avro schemas of a Kafka event store, on the topic ``<prefix>-schemas`` (one partition).

One record per schema, keyed by its id, valued with the schema's JSON; written (``acks=all``) before
the first event record that names the schema, so a reader that meets an id finds its schema on the
topic. Loading reads the topic from the start to its high watermark (a missing topic holds no schemas:
it is created by the first save, never by a read). Writing a schema twice (two
processes meeting a new event class at once) is harmless: loading keeps one of equal schemas.
The topic is outside the event topics' namespace (``<prefix>.``), so the index never reads it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from eventsourcing.errors import AppendOutcomeUnknown, StoreUnavailable
from eventsourcing.stores.kafka.log import KafkaLog
from eventsourcing.stores.kafka.loss import log_lost

log = logging.getLogger(__name__)


class KafkaSchemaStore:
    def __init__(self, log_: KafkaLog, topic: str) -> None:
        self._log = log_
        self.topic = topic
        self._ready = False
        self.end = 0
        """The offset after the last schema known to be on the topic (loaded or saved by this store): the
        topic must not end before it, else the broker lost the schemas (`KafkaLogLost`)."""

    async def _ensure_topic(self) -> None:
        if not self._ready:
            if self.topic not in await self._log.topics(self.topic):
                await self._log.create_topic(self.topic, 1)
                await self._log.topics(self.topic)
            self._ready = True

    async def load_schemas(self) -> list[Mapping[str, Any]]:
        """Every schema on the topic (none if the topic does not exist yet: reading never creates it)."""
        if self.topic not in await self._log.topics(self.topic):
            if self.end:
                raise log_lost(f"the schemas topic {self.topic} is missing, but this store has read or written it")
            self._ready = False
            return []
        schemas: dict[str, Mapping[str, Any]] = {}
        offset = 0
        while True:
            fetched = (await self._log.fetch({(self.topic, 0): offset})).get((self.topic, 0))
            if fetched is None:
                break
            for record in fetched.records:
                try:
                    value = json.loads(record.value or b"")
                    if not isinstance(value, dict):
                        raise ValueError("not a JSON object")
                except ValueError as err:
                    log.warning("%s offset %d is not an Avro schema (%s); ignored", self.topic, record.offset, err)
                    continue
                # By content, not by the record's key: a record keyed with a schema's id but holding
                # something else must not hide the schema from some readers and not from others.
                schemas.setdefault(json.dumps(value, sort_keys=True), value)
            offset = max(offset, fetched.next_offset)
            if offset >= fetched.high_watermark:
                break
        if offset < self.end:
            raise log_lost(
                f"{self.topic}/0: the schemas topic ends at offset {offset}, but this store has read or "
                f"written it up to offset {self.end}"
            )
        self.end = offset
        return list(schemas.values())

    async def save_schemas(self, schemas: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
        await self._ensure_topic()
        for schema_id, schema in schemas:
            value = json.dumps(schema, sort_keys=True).encode()
            try:
                _, offset = await self._log.produce(self.topic, str(schema_id).encode(), value, [])
            except AppendOutcomeUnknown as err:  # no event was sent yet, and saving a schema twice is harmless
                raise StoreUnavailable(f"saving Avro schema {schema_id} on {self.topic!r} failed: {err}") from err
            self.end = max(self.end, offset + 1)
