"""The peer anchor: PyPI ``eventsourcing`` 9.5.6 through ../shared/bench/peer/run, in its own venv.

Each measure runs in a subprocess that appends JSON lines to a file; we keep the lines whose metric
matches one of ours (same workload shape) and re-key them. The peer's in-memory backend (``popo``)
cannot hand a seeded log to a second process, so it has no ``seed`` / ``read_all`` figure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from records import PEER, Measurement
from sizes import Sizes

Emit = Callable[[Measurement], None]

DEFAULT_RUNNER = Path(__file__).resolve().parents[2] / "shared" / "bench" / "peer" / "run"

_BACKENDS = {"memory": "popo", "sqlite": "sqlite", "postgres": "postgres"}
_MEASURES = {
    "memory": ("append", "batch", "reconstitute"),
    "sqlite": ("append", "batch", "reconstitute", "seed", "notiflog"),
    "postgres": ("append", "batch", "reconstitute", "seed", "notiflog"),
}
PG_SEEDED = "peer_seeded"
"""The peer's seeded PostgreSQL database (``seed`` writes it, ``notiflog`` reads it)."""
# peer metric -> (our key, factor turning the peer's value into our unit)
_METRICS: dict[str, tuple[str, Callable[[float, Sizes], float]]] = {
    "append: create commands/s (save only)": ("create", lambda v, s: v),
    "append: load+change+save commands/s": ("command", lambda v, s: v),
    "batch: save 1,000 pending events, events/s": ("batch", lambda v, s: v),
    "recon: replay rate, no snapshot, events/s": ("replay_latest", lambda v, s: v),
    "recon: get(version=5000), no snapshot, ms": ("replay_version", lambda v, s: s.replay_version / (v / 1000)),
    "seed: 10k aggregates x 10 events, events/s": ("seed", lambda v, s: v),
    "notiflog read 100k: section 1000, + decode to domain events, events/s": ("read_all", lambda v, s: v),
}
_UNITS = {"create": "cmd/s", "command": "cmd/s"}


class PeerFailed(RuntimeError):
    pass


def run(
    runner: Path,
    backend: str,
    workdir: Path,
    sizes: Sizes,
    emit: Emit,
    rnd: int,
    *,
    pg: tuple[str, int] | None = None,
    before: Callable[[str], None] | None = None,
) -> None:
    """All of the peer's measures that match ours on one backend (raises `PeerFailed`).

    PostgreSQL: ``pg`` is the (host, port) of the server to use (the peer's own script makes and
    drops its databases there, as the ``postgres`` user, trust auth); ``before(measure)`` runs
    before each measure (the caller creates the empty seeded database before ``seed``).
    """
    peer_dir = workdir / "peer"
    peer_dir.mkdir(parents=True, exist_ok=True)
    out = peer_dir / f"peer-{backend}-{rnd}.jsonl"
    out.unlink(missing_ok=True)
    seeded = str(peer_dir / "seeded.db") if backend != "postgres" else PG_SEEDED
    env = {**os.environ, "BENCH_TMP": str(peer_dir)}
    if pg is not None:
        env |= {"BENCH_PG_HOST": pg[0], "BENCH_PG_PORT": str(pg[1]), "BENCH_PG_USER": "postgres"}
    for measure in _MEASURES[backend]:
        if before is not None:
            before(measure)
        args = [str(runner), "--backend", _BACKENDS[backend], "--measure", measure, "--out", str(out)]
        args += ["--round", str(rnd)]
        if measure in ("append",):
            args += ["--n-agg", str(sizes.accounts), "--rounds", str(sizes.rounds)]
        if measure == "seed" and backend != "postgres":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{seeded}{suffix}").unlink(missing_ok=True)
        if measure in ("seed", "notiflog"):
            args += ["--target", seeded]
        done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.stderr.write(done.stderr[-4000:])
            raise PeerFailed(f"peer {backend}/{measure} exited with {done.returncode}")
    for line in out.read_text().splitlines():
        record = json.loads(line)
        mapped = _METRICS.get(record["metric"])
        if mapped is None:
            continue
        key, convert = mapped
        value = convert(float(record["value"]), sizes)
        emit(Measurement(PEER, backend, key, value, _UNITS.get(key, "ev/s"), int(record.get("n") or 0), rnd))
