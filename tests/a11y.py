"""axe-core in a page, offline (bundled with axe-playwright-python): what the browser tests
of every part count as a barrier."""

from __future__ import annotations

from typing import Any

# WCAG 2.1 AA failures that stop or seriously hinder someone; axe's "moderate" and "minor"
# findings (best practices such as heading order) are not counted.
BARRIERS = ("serious", "critical")
# Every finding, for pages held to best practice as well.
ALL_IMPACTS = ("minor", "moderate", "serious", "critical")


async def barriers(page: Any, impacts: tuple[str, ...] = BARRIERS) -> list[str]:
    """axe-core's findings of these ``impacts`` (by default the serious and critical ones)
    on the page as it is now: the page, the rule, the first places it fails and why."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    return [
        f"{page.url} {v['id']} ({v['impact']}): {v['help']} "
        + "; ".join(
            f"{node.get('target', [''])[0]} {(node.get('failureSummary') or '')[:200]}"
            for node in v.get("nodes", [])[:3]
        )
        for v in results.response["violations"]
        if v.get("impact") in impacts
    ]
