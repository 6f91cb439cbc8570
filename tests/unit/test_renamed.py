"""Renamed public names keep working for one release, with a `DeprecationWarning` (issue 15 item 15)."""

from __future__ import annotations

import importlib

import pytest

import eventsourcing.projections
import eventsourcing.projections.view
from eventsourcing.projections import ViewBatch


@pytest.mark.parametrize("module", ["eventsourcing.projections", "eventsourcing.projections.view"])
def test_view_is_now_view_batch(module: str) -> None:
    with pytest.warns(DeprecationWarning, match=rf"^{module}\.View is renamed ViewBatch; the old name will be removed"):
        old = importlib.import_module(module).View
    assert old is ViewBatch


def test_importing_the_old_name_warns_at_the_import() -> None:
    with pytest.warns(DeprecationWarning, match="View is renamed ViewBatch"):
        from eventsourcing.projections import View  # noqa: F401


def test_the_new_name_does_not_warn_and_unknown_names_still_fail(recwarn: pytest.WarningsRecorder) -> None:
    assert eventsourcing.projections.ViewBatch is eventsourcing.projections.view.ViewBatch
    assert not [w for w in recwarn if issubclass(w.category, DeprecationWarning)]
    with pytest.raises(AttributeError, match="has no attribute 'Veiw'"):
        eventsourcing.projections.Veiw  # noqa: B018
    with pytest.raises(ImportError):
        from eventsourcing.projections import Veiw  # noqa: F401
    assert "View" not in eventsourcing.projections.__all__
