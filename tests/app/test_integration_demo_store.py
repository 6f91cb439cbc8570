"""Integration tier (issue 15 item 4): the demo and `serve` share one store, so the demo runs again on it:
each run tells the same story about its own carts, and says where the data lives."""

from __future__ import annotations

import re
from pathlib import Path

from eventsourcing.sample_shopping_cart.demo import run_demo


async def test_the_demo_tells_the_same_story_on_a_store_it_already_ran_on(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'shop.db'}"
    first: list[str] = []
    second: list[str] = []
    alice1 = await run_demo(store, first.append)
    alice2 = await run_demo(store, second.append)
    assert alice1 != alice2
    assert not any("the mug is back" in line for line in first)
    assert "the mug is back at 9.00 (an earlier run on this store raised its price)" in second

    def story(lines: list[str], alice: str) -> list[str]:
        # The run's own lines, its ids and clock times taken out: the two runs read the same.
        text = "\n".join(line for line in lines if "the mug is back" not in line)
        text = text.split("== View: popular products")[0] + text.split("== View: abandoned carts")[1]
        text = re.sub(r"\d\d:\d\d:\d\d\.\d+|\d{4}-\d\d-\d\dT\S+", "T", text.replace(alice[len("cart-alice-") :], "R"))
        return re.sub(r"\(\d+ events\)", "(N events)", text).splitlines()  # the rebuild reads every run's

    assert story(first, alice1) == story(second, alice2)  # the mug still at 9.00 first, summaries of its own carts
    summaries = "\n".join(second).split("== View: cart summaries")[1].split("== View: popular")[0]
    assert alice2 in summaries and alice1 not in summaries
    assert f"events in {tmp_path / 'shop.db'}; views in {tmp_path / 'shop-views.db'}" in second[-1]
