"""``kafka://host:port[,host:port]?prefix=...&partitions=...&index=...`` → `KafkaEventStore`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from eventsourcing.errors import ConfigurationError
from eventsourcing.urls import redact

if TYPE_CHECKING:
    from eventsourcing.stores.kafka.store import KafkaEventStore

# URL parameter → (constructor argument, converter)
_PARAMS: dict[str, tuple[str, Any]] = {
    "prefix": ("prefix", str),
    "partitions": ("partitions", int),
    "index": ("index", str),
    "poll_interval": ("poll_interval", float),
    "append_timeout": ("append_timeout", float),
    "request_timeout": ("request_timeout", float),
    "replication_factor": ("replication_factor", int),
    "max_record_bytes": ("max_record_bytes", int),
    "codec": ("codec", str),
    "wire_format": ("wire_format", str),
}


def kafka_store(url: str, **options: Any) -> KafkaEventStore:
    """The store a ``kafka://`` URL describes; keyword ``options`` win over URL parameters."""
    try:
        from eventsourcing.stores.kafka.store import KafkaEventStore
    except ImportError as err:  # pragma: no cover - depends on the installation
        raise ConfigurationError(
            f"the Kafka store needs aiokafka: pip install 'async-eventsourcing[kafka]' ({err})"
        ) from err
    parts = urlsplit(url)
    # Errors show the URL without its parameters: an unknown one may be a mistyped secret.
    shown = redact(url.split("?", 1)[0])
    if "@" in parts.netloc:
        raise ConfigurationError(
            f"{shown!r}: a kafka:// URL names bootstrap servers only (host:port,...); it takes no user or password"
        )
    servers = parts.netloc
    if not servers:
        raise ConfigurationError(f"{shown!r}: give the bootstrap servers, e.g. kafka://127.0.0.1:9092")
    kwargs: dict[str, Any] = {}
    for name, values in parse_qs(parts.query, keep_blank_values=True).items():
        if name not in _PARAMS:
            known = ", ".join(sorted(_PARAMS))
            raise ConfigurationError(f"{shown!r}: unknown parameter {name!r} (known: {known})")
        argument, convert = _PARAMS[name]
        try:
            kwargs[argument] = convert(values[-1])
        except ValueError as err:
            raise ConfigurationError(f"{shown!r}: parameter {name!r} is not valid: {values[-1]!r}") from err
    if kwargs.get("index") in ("", "memory"):
        kwargs["index"] = None
    kwargs.update(options)
    return KafkaEventStore(servers, **kwargs)
