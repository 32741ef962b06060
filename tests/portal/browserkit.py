"""Helpers for the portal's browser tests: the real platform (scripts/run.py on free ports,
tests/e2e's harness), Chromium through Playwright, simulator log-ins, and axe-core."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from e2ekit import Platform, start_platform, stop_platform

CHROMIUM = "/usr/bin/chromium"
EH3 = "urn:etoegang:core:assurance-class:loa3"
SCREENSHOTS = os.environ.get("PORTAL_SCREENSHOTS", "")

__all__ = ["CHROMIUM", "Platform", "start_platform", "stop_platform"]


# The words in elements matching a selector that the browser laid out on more than one line,
# i.e. cut in two on screen ("Authenti" / "catie"). A line break at a space or a hyphen is
# no cut.
_CUT_WORDS = """(within) => {
  const cut = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.parentElement.closest(within)) continue;
    for (const word of node.data.matchAll(/[^\\s-]+/g)) {
      const range = document.createRange();
      range.setStart(node, word.index);
      range.setEnd(node, word.index + word[0].length);
      if (range.getClientRects().length > 1) cut.push(word[0]);
    }
  }
  return cut;
}"""

# Each table container that scrolls sideways: whether it takes the keyboard focus and has
# a name (so that keyboard and screen-reader users can reach and scroll it).
_SCROLLING_TABLES = """() => [...document.querySelectorAll(".utrecht-table-container")]
  .filter((box) => box.scrollWidth > box.clientWidth)
  .map((box) => ({focusable: box.tabIndex === 0, name: box.getAttribute("aria-label") || ""}))"""


async def cut_words(page: Any, within: str = ".utrecht-table th, .utrecht-table td") -> list[str]:
    """Words in the page's tables (or the elements matching ``within``) that do not fit
    their box (cut in two on screen)."""
    return list(await page.evaluate(_CUT_WORDS, within))


# The text of each element matching a selector that is laid out on more than one line.
_BROKEN_TEXTS = """(selector) => [...document.querySelectorAll(selector)].filter((el) => {
  const range = document.createRange();
  range.selectNodeContents(el);
  return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size > 1;
}).map((el) => el.textContent.trim())"""


async def broken_texts(page: Any, selector: str) -> list[str]:
    """The texts of the elements matching ``selector`` that are broken over lines."""
    return list(await page.evaluate(_BROKEN_TEXTS, selector))


async def scrolling_tables(page: Any) -> list[dict[str, Any]]:
    """The page's tables that scroll sideways: ``{"focusable": bool, "name": str}`` each."""
    return list(await page.evaluate(_SCROLLING_TABLES))


async def page_width(page: Any) -> int:
    """The width the page's content takes: more than the window means it scrolls sideways."""
    return int(await page.evaluate("document.documentElement.scrollWidth"))


async def menu_lines(page: Any) -> int:
    """On how many lines the main menu's links are laid out."""
    tops = await page.eval_on_selector_all(
        ".portal-nav__link",
        "links => links.map(link => Math.round(link.getBoundingClientRect().top))",
    )
    return len(set(tops))


async def gap_between(page: Any, above: str, below: str) -> float:
    """Pixels from the bottom of the first element matching ``above`` to the top of the first
    matching ``below``."""
    return float(
        await page.evaluate(
            """([above, below]) => document.querySelector(below).getBoundingClientRect().top
                - document.querySelector(above).getBoundingClientRect().bottom""",
            [above, below],
        )
    )


async def shot(page: Any, name: str) -> None:
    """A full-page screenshot when PORTAL_SCREENSHOTS names a folder (for people to look at)."""
    if SCREENSHOTS:
        await page.screenshot(path=f"{SCREENSHOTS}/{name}.png", full_page=True)


async def login(page: Any, base: str, means: str, identity: str, level: str = "") -> None:
    """Through the portal's log-in button, identity's choice of means and the simulator."""
    await page.goto(f"{base}/")
    await page.locator("a[href^='/login']").first.click()
    await page.wait_for_selector("form[action='/auth/login']")
    await page.locator(f"#means-{means}").check()
    await page.locator("form[action='/auth/login'] button[type=submit]").click()
    await page.wait_for_selector(f"#identity-{identity}")
    await page.locator(f"#identity-{identity}").check()
    if level:
        await page.locator(f"input[name=level][value='{level}']").check()
    await page.locator("button[value=login]").click()
    await page.wait_for_url(f"{base}/**")
    await page.wait_for_selector("form[action='/logout']")


async def set_language(page: Any, base: str, lang: str) -> None:
    await page.goto(f"{base}/language?lang={lang}&next=/")
