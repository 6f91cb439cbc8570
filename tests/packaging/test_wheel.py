"""The built wheel, installed into fresh virtual environments as a user would install it.

The wheel ships one top-level package, ``eventsourcing``: the repository keeps ``projections/``,
``snapshots/`` and ``sample_shopping_cart/`` at its top, and the wheel puts them under
``eventsourcing/`` (the documented import paths). pyeventsourcing, the PyPI distribution named
``eventsourcing``, installs the same top-level package; installing a wheel runs no code, so the two
merge into one folder whichever comes second, and our entry points refuse to run with one sentence
that says what to do (``eventsourcing/_coinstall.py``).

Each environment is created without pip and without dependencies: the wheels are installed by this
interpreter's pip (``--python``) with ``--no-deps --no-index``, and a ``.pth`` line lends the
environment this interpreter's site-packages for pydantic, SQLAlchemy and the other dependencies (a
``.pth`` in a folder added by a ``.pth`` line is not processed, so this checkout's editable install
stays out of sight).
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PEER_WHEEL = ROOT / ".venv" / "wheels" / "eventsourcing-9.5.6-py3-none-any.whl"
MESSAGE_START = "pyeventsourcing (the PyPI distribution 'eventsourcing') is installed in the same environment"
TIMEOUT = 300


def _run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, timeout=TIMEOUT, check=False)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", out, ROOT)
    assert built.returncode == 0, built.stderr
    (found,) = out.glob("async_eventsourcing-*.whl")
    return found


@pytest.fixture(scope="module")
def peer_wheel() -> Path:
    if not PEER_WHEEL.is_file():
        pytest.fail(f"{PEER_WHEEL} is missing: run ./scripts/setup (it downloads pyeventsourcing 9.5.6's wheel)")
    return PEER_WHEEL


class Env:
    def __init__(self, root: Path) -> None:
        made = _run(sys.executable, "-m", "venv", "--without-pip", root)
        assert made.returncode == 0, made.stderr
        self.root = root
        self.python = root / "bin" / "python"
        found = _run(self.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
        self.site = Path(found.stdout.strip())
        (self.site / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    def pip(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        done = _run(sys.executable, "-m", "pip", "--python", self.python, *args)
        assert done.returncode == 0, done.stderr
        return done

    def install(self, *wheels: Path) -> None:
        self.pip("install", "-q", "--no-deps", "--no-index", *wheels)

    def py(self, code: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return _run(self.python, "-c", code, cwd=cwd or self.root)


def test_the_wheel_ships_one_top_level_package_with_the_documented_paths(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} == {"eventsourcing"}
    for package in ("eventsourcing", "eventsourcing/projections", "eventsourcing/snapshots"):
        assert f"{package}/py.typed" in names  # every shipped package is typed (PEP 561)
    assert "eventsourcing/sample_shopping_cart/api/static/index.html" in names  # the page's files


def test_installed_alone_the_namespaced_paths_work_and_user_modules_do_not_shadow_them(
    wheel: Path, tmp_path: Path
) -> None:
    env = Env(tmp_path / "venv")
    env.install(wheel)
    project = tmp_path / "project"
    project.mkdir()
    for name in ("projections", "snapshots", "sample_shopping_cart"):  # a user's own modules of those names
        (project / f"{name}.py").write_text(f"MINE = {name!r}\n")
    done = env.py(
        "import projections, snapshots\n"
        "from eventsourcing import Aggregate, open_store\n"
        "from eventsourcing.projections import ProjectionRunner, Projector\n"
        "from eventsourcing.snapshots import EveryNEvents, SQLSnapshotStore\n"
        "from eventsourcing.sample_shopping_cart.domain import ShoppingCart\n"
        "import eventsourcing.projections as p\n"
        "print(projections.MINE, snapshots.MINE, p.__file__.startswith(sys.prefix))\n".replace(
            "import projections", "import sys, projections"
        ),
        cwd=project,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["projections", "snapshots", "True"]
    cli = _run(env.root / "bin" / "eventsourcing", "--help")
    assert cli.returncode == 0 and "replay" in cli.stdout, cli.stderr


@pytest.mark.parametrize("order", ["peer first", "ours first"])
def test_next_to_pyeventsourcing_every_entry_point_fails_with_one_sentence(
    wheel: Path, peer_wheel: Path, tmp_path: Path, order: str
) -> None:
    env = Env(tmp_path / "venv")
    for one in (peer_wheel, wheel) if order == "peer first" else (wheel, peer_wheel):
        env.install(one)  # one at a time: given both, pip chooses the order
    entry_points = ["import eventsourcing.projections", "import eventsourcing.snapshots"]
    if order == "peer first":  # our __init__.py replaced pyeventsourcing's (empty) one
        entry_points += ["import eventsourcing", "import eventsourcing.domain"]
    for code in entry_points:
        done = env.py(code)
        assert done.returncode == 1, code
        assert done.stderr.splitlines()[-1].startswith(
            f"eventsourcing._coinstall.CoinstalledPyEventSourcing: {MESSAGE_START}"
        )
    cli = _run(env.root / "bin" / "eventsourcing", "--help")
    assert cli.returncode == 2
    assert cli.stderr.startswith(f"error: {MESSAGE_START}") and cli.stderr.count("\n") == 1, cli.stderr
    if order == "ours first":  # pyeventsourcing's empty __init__.py replaced ours: Python's own error remains
        done = env.py("from eventsourcing import Aggregate")
        assert "cannot import name 'Aggregate'" in done.stderr


def test_uninstalling_leaves_nothing_behind(wheel: Path, tmp_path: Path) -> None:
    env = Env(tmp_path / "venv")
    env.install(wheel)
    assert (env.site / "eventsourcing" / "projections" / "runner.py").is_file()
    env.pip("uninstall", "-q", "-y", "async-eventsourcing")
    assert not (env.site / "eventsourcing").exists()
    assert not (env.root / "bin" / "eventsourcing").exists()
