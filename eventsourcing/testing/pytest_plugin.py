"""The pytest plugin that fails a test which set up a scenario but never awaited its check.

Installed as a ``pytest11`` entry point, so pytest loads it wherever this library is installed
(``-p no:eventsourcing.testing.pytest_plugin`` turns it off; with plugin autoloading disabled, add
``-p eventsourcing.testing.pytest_plugin``). It only looks at scenarios: a test that uses none
is not affected.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from eventsourcing.testing import obligations


def pytest_configure(config: pytest.Config) -> None:
    obligations.watchers.append(config)  # this plugin reports open scenarios: no warning when collected


def pytest_unconfigure(config: pytest.Config) -> None:
    obligations.watchers.remove(config)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    obligations.take_open()  # left by collection or by an earlier test's teardown: not this test's


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    try:
        result = yield
    except BaseException:
        obligations.take_open()  # the test failed already; its own error says more
        raise
    unchecked = obligations.take_open()
    if unchecked:
        pytest.fail("\n".join(o.describe() for o in unchecked), pytrace=False)
    return result
