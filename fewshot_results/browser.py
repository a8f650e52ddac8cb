"""Open a page as a person would, in headless Chromium with the network off, and say what drew.

A markdown file is first rendered to HTML as GitHub renders a comment (CommonMark, tables,
raw HTML such as <details>), next to it, so its relative image links resolve. Uses the
system's Chromium (Debian's `chromium`; $CHROMIUM to point elsewhere): Playwright's own browser
download is never needed. Prints one JSON object: charts drawn, images loaded, console errors,
requests that tried to leave the machine, and how wide the page is.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

GITHUB_CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; font-size: 14px;
       line-height: 1.5; margin: 0; padding: 16px; width: 848px; }
table { border-collapse: collapse; display: block; max-width: 100%; overflow: auto; }
td, th { border: 1px solid #d0d7de; padding: 6px 13px; } img { max-width: 100%; }
blockquote { border-left: .25em solid #d0d7de; color: #57606a; margin: 0; padding: 0 1em; }
"""


def chromium_path() -> str | None:
    found = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    return found if found and Path(found).exists() else None


def markdown_page(markdown: Path) -> Path:
    """`markdown` rendered to an HTML file beside it, as GitHub shows a comment."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown.read_text())
    page = markdown.with_suffix(".html")
    page.write_text(
        f'<!doctype html><html><head><meta charset="utf-8"><style>{GITHUB_CSS}</style>'
        f"</head><body>{body}</body></html>"
    )
    return page


def inspect(
    path: Path, width: int = 1280, screenshot: Path | None = None, vega_views: int = 0
) -> dict[str, Any]:
    """Load `path` offline and report what a person would see go wrong; with `vega_views`,
    first wait until that many vega-embed views have drawn (pages DVC itself writes)."""
    from playwright.sync_api import sync_playwright

    browser_path = chromium_path()
    if browser_path is None:
        raise RuntimeError("no Chromium found: install Debian's `chromium` or set $CHROMIUM")
    page_file = markdown_page(path) if path.suffix == ".md" else path
    errors: list[str] = []
    blocked: list[str] = []

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url.startswith(("file:", "data:", "blob:")):
            request_route.continue_()
        else:
            blocked.append(url)
            request_route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.route("**/*", route)
            page.goto(page_file.resolve().as_uri(), wait_until="load")
            page.wait_for_function(
                "() => [...document.querySelectorAll('figure.chart')]"
                ".every(f => f.querySelector('svg, canvas'))",
                timeout=30_000,
            )
            if vega_views:
                page.wait_for_function(
                    f"() => document.querySelectorAll('.vega-embed :is(svg, canvas)').length"
                    f" >= {vega_views}",
                    timeout=30_000,
                )
            result = page.evaluate(
                """() => ({
                  charts: [...document.querySelectorAll('figure.chart')].map(f => {
                    const svg = f.querySelector('svg');
                    const marks = svg ? svg.querySelectorAll('path, rect, line, text').length : 0;
                    const width = svg ? svg.getBoundingClientRect().width : 0;
                    const labels = svg ? [...svg.querySelectorAll('text')].map(t => t.textContent)
                                       : [];
                    return {id: f.id, width, marks, labels};
                  }),
                  images: [...document.images].map(i => ({src: i.getAttribute('src'),
                                                          naturalWidth: i.naturalWidth})),
                  tables: [...document.querySelectorAll('table')].map(t => t.scrollWidth),
                  vega_views: document.querySelectorAll('.vega-embed :is(svg, canvas)').length,
                  headings: [...document.querySelectorAll('h1, h2')].map(h => h.textContent),
                  scrollWidth: document.documentElement.scrollWidth,
                })"""
            )
            if screenshot:
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return {**result, "console_errors": errors, "blocked_requests": blocked}
