"""`replay --diff`'s comparison of two states: applying the changes to the old state gives the new one."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventsourcing.cli.diffing import Change, diff, path_text

SCALARS = st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | st.text(max_size=3)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4),
    max_leaves=6,
)
STATES = st.dictionaries(st.sampled_from(["a", "b", "lines", "sku-1", "x y"]), JSON, max_size=4)


def patch(value: Any, changes: list[Change]) -> Any:
    """Apply ``changes`` to a copy of ``value`` (removals last, from the end, so list indexes hold)."""
    out = copy.deepcopy(value)
    ordered = [c for c in changes if c.kind != "removed"] + [c for c in reversed(changes) if c.kind == "removed"]
    for change in ordered:
        *parents, last = change.path
        target = out
        for part in parents:
            target = target[part]
        if change.kind == "removed":
            del target[last]
        elif isinstance(target, list) and last == len(target):
            target.append(change.new)
        else:
            target[last] = change.new
    return out


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(old=STATES, new=STATES)
def test_the_changes_turn_the_old_state_into_the_new_one(old: dict[str, Any], new: dict[str, Any]) -> None:
    changes = diff(old, new)
    assert patch(old, changes) == new
    assert all(change.path for change in changes)  # always a field, never the whole state
    assert changes or old == new


@given(state=STATES)
def test_no_change_no_lines(state: dict[str, Any]) -> None:
    assert diff(state, copy.deepcopy(state)) == []


def test_nested_values_are_reported_where_they_changed() -> None:
    old = {"customer": "alice", "lines": {"apple": 2}, "items": [{"sku": "a", "qty": 1}], "total": "1.00"}
    new = {"lines": {"apple": 3, "pear": 1}, "items": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 1}], "total": 1}
    lines = [change.line() for change in diff(old, new)]
    assert lines == [
        "~ lines.apple: 2 -> 3",
        "+ lines.pear: 1",
        "~ items[0].qty: 1 -> 2",
        '+ items[1]: {"sku": "b", "qty": 1}',
        '~ total: "1.00" -> 1',
        '- customer: "alice"',
    ]
    assert diff({"n": 1}, {"n": 1.0}) == [Change(("n",), "changed", 1, 1.0)]
    assert diff({"n": True}, {"n": 1}) == [Change(("n",), "changed", True, 1)]


def test_paths_are_readable() -> None:
    assert path_text(("lines", "sku-1")) == 'lines["sku-1"]'
    assert path_text(("items", 2, "quantity")) == "items[2].quantity"
    assert path_text(("a b",)) == '["a b"]'
    assert Change(("lines", "x"), "removed", old=1).record() == {
        "path": ["lines", "x"],
        "field": "lines.x",
        "change": "removed",
        "old": 1,
    }
