"""The Kafka event store (needs the ``kafka`` extra: aiokafka, and fastavro for its default codec)."""

from eventsourcing.errors import ConfigurationError

try:
    import aiokafka  # noqa: F401
except ImportError as err:  # pragma: no cover - depends on the installed extras
    raise ConfigurationError("the Kafka event store needs aiokafka: pip install 'async-eventsourcing[kafka]'") from err

from eventsourcing.stores.kafka.errors import KafkaLogLost
from eventsourcing.stores.kafka.store import KafkaEventStore

__all__ = ["KafkaEventStore", "KafkaLogLost"]
