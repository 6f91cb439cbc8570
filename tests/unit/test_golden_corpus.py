"""The golden corpus (tests/golden/): every stored sample of every version of the reference app's events
decodes with the current classes, through both codecs, the way a store decodes what it holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eventsourcing import DomainEvent, SerializationError
from eventsourcing.avro import AvroCodec, MemorySchemaRegistry
from eventsourcing.serialization import EventMapper, JSONCodec
from tests.golden.samples import ROOT, VALUES, event_classes, sample_paths

SAMPLES = sorted(ROOT.glob("*/v*.json"))
SCHEMAS = [json.loads(path.read_text()) for path in sorted(ROOT.glob("*/v*.avsc"))]


def _stored(path: Path) -> tuple[str, int]:
    return path.parent.name, int(path.stem.removeprefix("v"))


def test_every_current_event_version_has_samples() -> None:
    missing = [
        f"{cls.event_type} v{cls.schema_version}"
        for cls in event_classes()
        if not all(p.exists() for p in sample_paths(cls).values())
    ]
    assert not missing, f"no golden samples for {missing}: run `python -m tests.golden.samples` and commit them"


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_sample_decodes_with_the_current_classes(sample: Path) -> None:
    event_type, version = _stored(sample)
    avro = EventMapper(AvroCodec(MemorySchemaRegistry(SCHEMAS)))
    from_json = EventMapper(JSONCodec()).decode(event_type, version, sample.read_bytes(), stream_id="golden", version=1)
    from_avro = avro.decode(
        event_type, version, sample.with_suffix(".avro").read_bytes(), stream_id="golden", version=1
    )
    assert from_json == from_avro
    cls = type(from_json)
    assert cls.event_type == event_type or event_type in cls.aliases
    if version == cls.schema_version:  # a sample of the current version holds exactly its values
        assert from_json == cls(**VALUES[cls.event_type])


class Broken(DomainEvent):
    """``cart.opened`` as a careless change would leave it: a required field renamed."""

    event_type = "golden.broken_opened"
    customer: str


def test_the_corpus_catches_a_breaking_change() -> None:
    sample = ROOT / "cart.opened" / "v1.json"
    with pytest.raises(Exception, match="customer"):
        JSONCodec().decode(Broken, sample.read_bytes())
    with pytest.raises(SerializationError):
        AvroCodec(MemorySchemaRegistry(SCHEMAS)).decode(Broken, sample.with_suffix(".avro").read_bytes())
