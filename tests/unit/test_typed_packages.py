"""Every shipped package is typed: a user's module that imports each and subclasses their bases
passes `mypy --strict` (without `py.typed`, mypy reports `import-untyped` and "Class cannot
subclass ... (has type Any)")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

USER_MODULE = """
from sqlalchemy import Column, Integer, MetaData, Table, Text

from eventsourcing import Aggregate, DomainEvent, RecordedEvent, on
from eventsourcing.projections import ProjectionRunner, Projector, ViewBatch
from eventsourcing.sample_shopping_cart.domain.cart import ShoppingCart
from eventsourcing.snapshots import EveryNEvents

counts = Table("counts", MetaData(), Column("id", Text, primary_key=True), Column("n", Integer))


class Book(Aggregate):
    class Lent(DomainEvent):
        to: str

    borrower: str = ""

    @on(Lent)
    def _lent(self, event: Lent) -> None:
        self.borrower = event.to


class Loans(Projector):
    tables = (counts,)

    @on(Book.Lent)
    def lent(self, event: RecordedEvent[Book.Lent], view: ViewBatch) -> None:
        view.add("counts", event.stream_id, n=1)


policy: EveryNEvents = EveryNEvents(100)
runner_type: type[ProjectionRunner] = ProjectionRunner
cart_type: type[ShoppingCart] = ShoppingCart
"""


def test_a_user_module_importing_every_package_passes_mypy_strict(tmp_path: Path) -> None:
    module = tmp_path / "library_app.py"
    module.write_text(USER_MODULE)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / "cache"),
            str(module),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
