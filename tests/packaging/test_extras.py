"""Each extra brings what its backend needs with its defaults; a missing driver names the extra to install.

The extras are read from the built wheel's METADATA (its ``Requires-Dist`` lines), as pip reads them.
For each way of using the library that the docs give an install command for, a fresh interpreter
does the thing for real — a store opened with its defaults on SQLite, PostgreSQL or Kafka, an
aggregate saved and replayed with the CLI, the shop's app started, the testing helpers imported —
and reports the third-party modules it imported. Each must come from a distribution that the base
install plus that extra brings (with their own dependencies). So `pip install
"async-eventsourcing[kafka]"` must bring fastavro, since Avro is the Kafka store's default codec, and
the base install must bring typer and rich, since the `eventsourcing` command is in the base install.

The second half takes one driver away (``sys.modules[name] = None``, so importing it fails as if
it were not installed) and checks that the error says which extra to install.
"""

from __future__ import annotations

import email.parser
import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 300

# The model the scenarios save and replay (the CLI imports it with --app).
MODEL = """
from eventsourcing import Aggregate, DomainEvent, on


class Tally(Aggregate):
    type_name = "extras.Tally"

    class Added(DomainEvent):
        event_type = "extras.tally.added"
        n: int

    total: int = 0

    def add(self, n: int) -> None:
        self.emit(self.Added(n=n))

    @on(Added)
    def _added(self, event: Added) -> None:
        self.total += event.n
"""

# Saves a Tally on URL with the store's defaults; the CLI then replays it as of now.
SAVE_AND_REPLAY = """
import datetime as dt
from eventsourcing import Repository, open_store
from model import Tally

async def scenario():
    async with open_store(URL) as store:
        tally = Tally()
        tally.add(2)
        await Repository(Tally, store).save(tally)
        assert (await Repository(Tally, store).get(tally.id)).total == 2
    now = dt.datetime.now(dt.UTC).isoformat()
    CLI_CALLS.append(["replay", "--store", URL, "--app", "model", "extras.Tally", tally.id, "--at", now, "--json"])
"""

SCENARIOS: dict[str, tuple[str | None, str]] = {
    # name: (the extra the docs name for it, or None for the base install; the code)
    "sqlite store, snapshots, projections, CLI": (
        None,
        'URL = "sqlite:///events.db"\n'
        + SAVE_AND_REPLAY
        + textwrap.dedent(
            """
            from eventsourcing.projections import ProjectionRunner, Projector
            from eventsourcing.snapshots import EveryNEvents, SQLSnapshotStore

            async def more():
                async with open_store(URL) as store, SQLSnapshotStore(URL) as snapshots:
                    tallies = Repository(Tally, store, snapshots=snapshots, snapshot_policy=EveryNEvents(1))
                    tally = Tally()
                    tally.add(1)
                    await tallies.save(tally)

            SCENARIOS = [scenario, more]
            """
        ),
    ),
    "postgresql store with its defaults, CLI": (
        "postgres",
        "import os\nURL = os.environ['PG_URL']\n" + SAVE_AND_REPLAY + "SCENARIOS = [scenario]\n",
    ),
    "kafka store with its defaults (Avro), CLI": (
        "kafka",
        "import os, uuid\nURL = f\"kafka://{os.environ['KAFKA']}?prefix=x{uuid.uuid4().hex[:8]}\"\n"
        + SAVE_AND_REPLAY
        + "SCENARIOS = [scenario]\n",
    ),
    "avro payloads on sqlite": (
        "avro",
        textwrap.dedent(
            """
            from eventsourcing import Repository, SQLEventStore
            from model import Tally

            async def scenario():
                async with SQLEventStore("sqlite:///avro.db", codec="avro") as store:
                    tally = Tally()
                    tally.add(3)
                    await Repository(Tally, store).save(tally)
                    assert (await Repository(Tally, store).get(tally.id)).total == 3

            SCENARIOS = [scenario]
            """
        ),
    ),
    "the shop's HTTP app": (
        "app",
        textwrap.dedent(
            """
            import uvicorn  # what `python -m eventsourcing.sample_shopping_cart serve` runs the app with
            from eventsourcing.sample_shopping_cart.api import create_app

            async def get(app, path):  # one request, as the server would pass it (no HTTP client needed)
                sent, messages = [], [{"type": "http.request", "body": b"", "more_body": False}]

                async def receive():
                    if messages:
                        return messages.pop()
                    await asyncio.Event().wait()  # the client stays connected

                async def send(message):
                    sent.append(message)

                scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                         "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
                         "headers": [], "server": ("shop", 80), "client": ("127.0.0.1", 1), "root_path": ""}
                await app(scope, receive, send)
                return sent[0]["status"]

            async def scenario():
                app = create_app("sqlite:///shop.db")
                async with app.router.lifespan_context(app):
                    assert await get(app, "/") == 200  # the page
                    assert await get(app, "/api/products") == 200

            SCENARIOS = [scenario]
            """
        ),
    ),
    "testing helpers": (
        "testing",
        textwrap.dedent(
            """
            from eventsourcing.testing import AggregateScenario, CommandScenario, EventStoreContract
            from eventsourcing.projections.testing import ProjectionScenario

            SCENARIOS = []
            """
        ),
    ),
}

_CHILD = """
import sys
BEFORE = set(sys.modules)
import asyncio, json
CLI_CALLS = []
{code}
for one in SCENARIOS:
    asyncio.run(one())
for argv in CLI_CALLS:
    from eventsourcing.cli import main
    try:
        main(argv)
    except SystemExit as exit_:
        assert exit_.code in (0, None), exit_.code
import sysconfig
STDLIB = tuple(sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib"))
SITE = tuple(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
imported = set()
for name in set(sys.modules) - BEFORE:
    top = sys.modules.get(name.split(".")[0])
    where = getattr(top, "__file__", None) or ""
    if where and (where.startswith(SITE) or not where.startswith(STDLIB)):  # not built in, not the stdlib
        imported.add(name.split(".")[0])
print("IMPORTED " + json.dumps(sorted(imported)))
"""


def _run(code: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=TIMEOUT,
        check=False,
    )


@pytest.fixture(scope="module")
def requires(tmp_path_factory: pytest.TempPathFactory) -> dict[str | None, list[Requirement]]:
    """The built wheel's requirements: None -> the base install's, "kafka" -> the kafka extra's, ..."""
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = out.glob("async_eventsourcing-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = email.parser.Parser().parsestr(archive.read(name).decode())
    extras: dict[str | None, list[Requirement]] = {None: []}
    extras.update({extra: [] for extra in metadata.get_all("Provides-Extra") or []})
    for line in metadata.get_all("Requires-Dist") or []:
        requirement = Requirement(line)
        if requirement.marker is None:
            extras[None].append(requirement)
            continue
        for extra in extras:
            if extra is not None and requirement.marker.evaluate({"extra": extra}):
                extras[extra].append(requirement.__class__(str(requirement).split(";")[0]))
    return extras


def _closure(requirements: list[Requirement]) -> set[str]:
    """The distributions these requirements install, with their own dependencies (as installed here)."""
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(canonicalize_name(r.name), frozenset(r.extras)) for r in requirements]
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        try:
            lines = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue  # not installed here, so it cannot have been imported either
        for line in lines:
            requirement = Requirement(line)
            wanted = requirement.marker is None or any(
                requirement.marker.evaluate({"extra": extra}) for extra in ("", *extras)
            )
            if wanted:
                todo.append((canonicalize_name(requirement.name), frozenset(requirement.extras)))
    return {name for name, _ in seen}


def _distributions_of(modules: list[str]) -> dict[str, set[str]]:
    """Top-level module -> the distributions that install it (empty: the standard library or this project)."""
    installed = importlib.metadata.packages_distributions()
    found: dict[str, set[str]] = {}
    for module in modules:
        if module in sys.stdlib_module_names or module in ("eventsourcing", "model", "__main__"):
            continue
        found[module] = {canonicalize_name(d) for d in installed.get(module, [])}
    return found


def test_every_documented_extra_is_declared_and_all_covers_them(requires: dict[str | None, list[Requirement]]) -> None:
    documented = {extra for extra, _ in SCENARIOS.values() if extra is not None}
    assert documented <= set(requires), f"extras the docs name but the wheel lacks: {documented - set(requires)}"
    everything = {canonicalize_name(r.name) for r in requires["all"]}
    for extra, requirements in requires.items():
        if extra not in (None, "all", "dev"):
            assert {canonicalize_name(r.name) for r in requirements} <= everything, f"`all` lacks the {extra} extra"
    base = {canonicalize_name(r.name) for r in requires[None]}
    assert {"typer", "rich"} <= base  # the `eventsourcing` command works from the base install


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_each_use_imports_only_what_its_install_brings(
    name: str, requires: dict[str | None, list[Requirement]], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    extra, code = SCENARIOS[name]
    env = {}
    if extra == "postgres":
        env["PG_URL"] = request.getfixturevalue("postgres_url")
    if extra == "kafka":
        env["KAFKA"] = request.getfixturevalue("kafka_bootstrap")
    (tmp_path / "model.py").write_text(MODEL)
    done = _run(_CHILD.format(code=code), tmp_path, env)
    assert done.returncode == 0, done.stderr[-4000:]
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("IMPORTED ")]
    imported = json.loads(line.removeprefix("IMPORTED "))
    brought = _closure(requires[None] + (requires[extra] if extra else []))
    install = "pip install async-eventsourcing" + (f"[{extra}]" if extra else "")
    uncovered = {
        module: sorted(dists) or ["(no distribution found)"]
        for module, dists in _distributions_of(imported).items()
        if not dists & brought
    }
    assert not uncovered, f"{name}: `{install}` does not bring what it imports: {uncovered}"


# (what to take away, the code that meets its absence, the extra the error must name)
MISSING = [
    ("asyncpg", "from eventsourcing import open_store; open_store('postgresql://u@127.0.0.1:1/db')", "postgres"),
    (
        "asyncpg",
        "from eventsourcing.snapshots import SQLSnapshotStore; SQLSnapshotStore('postgresql://h/db')",
        "postgres",
    ),
    ("aiokafka", "from eventsourcing import open_store; open_store('kafka://127.0.0.1:1?prefix=x')", "kafka"),
    ("aiokafka", "from eventsourcing.stores.kafka import KafkaEventStore", "kafka"),
    ("fastavro", "from eventsourcing import open_store; open_store('kafka://127.0.0.1:1?prefix=x')", "kafka"),
    ("fastavro", "from eventsourcing import SQLEventStore; SQLEventStore('sqlite:///a.db', codec='avro')", "avro"),
    ("fastavro", "import eventsourcing.avro", "avro"),
    ("hypothesis", "from eventsourcing.testing import EventStoreContract", "testing"),
    ("pytest", "from eventsourcing.testing import EventStoreContract", "testing"),
]


@pytest.mark.parametrize(("missing", "code", "extra"), MISSING, ids=[f"{m}-{i}" for i, (m, _, _) in enumerate(MISSING)])
def test_a_missing_driver_names_the_extra_that_brings_it(
    missing: str, code: str, extra: str, requires: dict[str | None, list[Requirement]], tmp_path: Path
) -> None:
    assert missing in {canonicalize_name(r.name) for r in requires[extra]}  # the extra named does bring it
    done = _run(f"import sys\nsys.modules[{missing!r}] = None\n{code}\n", tmp_path)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("eventsourcing.errors.ConfigurationError: "), last
    assert f"pip install 'async-eventsourcing[{extra}]'" in last, last


@pytest.mark.parametrize("missing", ["fastapi", "uvicorn"])
def test_serving_the_shop_without_the_app_extra_says_so_in_one_line(missing: str, tmp_path: Path) -> None:
    code = (
        f"import sys\nsys.modules[{missing!r}] = None\n"
        "from eventsourcing.sample_shopping_cart.__main__ import main\nsys.exit(main(['serve']))\n"
    )
    done = _run(code, tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("error: serving needs the app extra") and done.stderr.count("\n") == 1, done.stderr
    assert "pip install 'async-eventsourcing[app]'" in done.stderr
