"""The Kafka event store (needs the ``kafka`` extra: aiokafka)."""

from eventsourcing.stores.kafka.errors import KafkaLogLost
from eventsourcing.stores.kafka.store import KafkaEventStore

__all__ = ["KafkaEventStore", "KafkaLogLost"]
