"""Open a page as a person would, in headless Chromium with the network off, and say what drew.

    python scripts/browser_check.py dvc_plots/index.html --screenshot docs/screenshots/plots.png
    python scripts/browser_check.py report/report.md --width 880 --screenshot report.png

Prints one JSON object: charts drawn, images loaded, console errors, requests that tried to
leave the machine, and how wide the page is (fewshot_results/browser.py).
"""

import argparse
import json
from pathlib import Path

from fewshot_results.browser import inspect


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path, help="an .html page or a .md report")
    parser.add_argument("--width", type=int, default=1280, help="viewport width in px")
    parser.add_argument("--screenshot", type=Path, help="save a full-page PNG here")
    args = parser.parse_args()
    if not args.page.is_file():
        raise SystemExit(f"browser_check: {args.page} does not exist")
    print(json.dumps(inspect(args.page, args.width, args.screenshot), indent=2))


if __name__ == "__main__":
    main()
