"""End-to-end tier: the web page in a real headless Chromium (Debian's, driven by Playwright).

`scripts/setup` installs the browser when it is missing (as root). Without it this test fails and
says so: the page is part of the product, so its test never skips.
"""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import Page, async_playwright, expect

from tests.app.conftest import CHROMIUM_ARGS, Server


async def slide_to(page: Page, microseconds: int) -> None:
    """Move the time slider as a drag does: set its value and fire `input`."""
    await page.eval_on_selector(
        "#slider", "(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }", str(microseconds)
    )


async def test_the_page_shows_a_cart_its_timeline_and_the_cart_at_any_moment(
    server: Server, chromium: Path, tmp_path: Path
) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            await page.goto(server.url)
            await expect(page.locator("body")).to_have_attribute("data-ready", "true")

            # Open a cart and fill it through the forms.
            await page.fill("#customer", "dana")
            await page.click("#open-cart")
            await expect(page.locator("#cart-status")).to_have_text("open")
            await page.select_option("#product", "coffee-beans")
            await page.fill("#quantity", "2")
            await page.click("#add-item")
            await expect(page.locator("#lines tr")).to_have_count(1)
            await page.select_option("#product", "mug")
            await page.fill("#quantity", "1")
            await page.click("#add-item")
            await expect(page.locator("#lines tr")).to_have_count(2)
            await page.fill("#discount-code", "WELCOME10")
            await page.click("#apply-discount")
            await expect(page.locator("#cart-discount-code")).to_contain_text("WELCOME10")
            await expect(page.locator("#cart-total")).to_have_text("41.40")  # (37.00 + 9.00) - 10 %

            # A rule broken in the page is shown, not swallowed.
            await page.fill("#discount-code", "SPRING25")
            await page.click("#apply-discount")
            await expect(page.locator("#error")).to_contain_text("discount_already_applied")

            # The timeline lists every event; the time-travel panel starts at the latest.
            timeline = page.locator("#timeline li")
            await expect(timeline).to_have_count(4)
            await expect(page.locator("#asof-version")).to_have_text("4")
            await expect(page.locator("#asof-lines tr")).to_have_count(2)

            # Back to the opening: the keyboard moves the slider to its start, the cart was empty then.
            await page.focus("#slider")
            await page.keyboard.press("Home")
            await expect(page.locator("#asof-version")).to_have_text("1")
            await expect(page.locator("#asof-lines tr")).to_have_count(0)
            await expect(page.locator("#history-panel")).to_have_class("past")

            # Anywhere between two events: the state after the earlier one.
            stamps = await page.eval_on_selector_all("#timeline li time", "els => els.length")
            assert stamps == 4
            low, high = (
                int(await page.get_attribute("#slider", "min") or 0),
                int(await page.get_attribute("#slider", "max") or 0),
            )
            events = await page.evaluate(
                "async (id) => (await (await fetch(`/api/carts/${id}/events`)).json()).map(e => e.timestamp)",
                await page.text_content("#cart-id"),
            )
            second = await page.evaluate("(iso) => micros(iso)", events[1])
            third = await page.evaluate("(iso) => micros(iso)", events[2])
            assert low < second < third <= high
            await slide_to(page, (second + third) // 2)
            await expect(page.locator("#asof-version")).to_have_text("2")
            await expect(page.locator("#asof-lines tr td").first).to_have_text("Coffee beans, 1 kg")
            await expect(page.locator("#asof-total")).to_have_text("37.00")

            # Clicking an event travels to it.
            await timeline.nth(2).click()
            await expect(page.locator("#asof-version")).to_have_text("3")
            await expect(timeline.nth(2)).to_have_class("applied latest")
            await page.screenshot(
                path=os.environ.get("SHOP_TEST_SCREENSHOT", tmp_path / "as-of-v3.png"), full_page=True
            )

            # Check out: the cart closes, its forms are disabled, the slider reaches the new event.
            await page.click("#checkout")
            await expect(page.locator("#cart-status")).to_have_text("checked out")
            await expect(page.locator("#add-item")).to_be_disabled()
            await expect(timeline).to_have_count(5)
            await expect(page.locator("#asof-version")).to_have_text("5")
            await expect(page.locator("#carts li.current")).to_contain_text("checked out")
            assert errors == []
        finally:
            await browser.close()
