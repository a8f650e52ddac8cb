"""Write a markdown report comparing the workspace with a git revision, for pull-request review.

    python scripts/report.py --rev main --out report     # or: make report REV=main

report/report.md holds `dvc metrics diff --md`, `dvc params diff --md`, the workspace's
summary table and every plot of `dvc plots diff`, rendered to PNG (vega-lite plots through
vl-convert, image plots side by side per revision), so GitHub can show it as a comment
(`cml comment create report/report.md` uploads the images; see .github/workflows/report.yml).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import vl_convert


class ReportError(RuntimeError):
    pass


def dvc(*args: str) -> str:
    result = subprocess.run(["dvc", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise ReportError(f"`dvc {' '.join(args)}` failed:\n{result.stderr.strip()}")
    return result.stdout


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()[:80]


def render_plots(rev: str, out: Path) -> list[str]:
    """Markdown for every plot in `dvc plots diff rev`: one PNG per vega plot, image tables."""
    images_dir = out / "images"
    data = json.loads(dvc("plots", "diff", rev, "--json", "-o", str(images_dir)))["data"]
    lines: list[str] = []
    for plot_id, entries in data.items():
        lines.append(f"### {plot_id}\n")
        vega = [e for e in entries if e["type"] == "vega"]
        for entry in vega:
            png = out / f"{slug(plot_id)}.png"
            png.write_bytes(vl_convert.vegalite_to_png(entry["content"], scale=1.5))
            lines.append(f"![{plot_id}]({png.name})\n")
        images = [e for e in entries if e["type"] == "image"]
        if images:
            header = " | ".join(e["revisions"][0] for e in images)
            cells = " | ".join(
                f"![{e['revisions'][0]}]({Path(e['url']).relative_to(out.resolve())})"
                for e in images
            )
            lines += [f"| {header} |", "|" + " --- |" * len(images), f"| {cells} |", ""]
    return lines


def build_report(rev: str, out: Path) -> Path:
    git = ["git", "rev-parse", "--verify", f"{rev}^{{commit}}"]
    if subprocess.run(git, capture_output=True).returncode != 0:
        raise ReportError(f"--rev {rev!r} is not a git revision of this repository")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    metrics = dvc("metrics", "diff", rev, "--md").strip() or "No metric changed."
    params = dvc("params", "diff", rev, "--md").strip() or "No param changed."
    summary = Path("metrics/summary.md")
    lines = [
        f"# Pipeline report: workspace vs `{rev}`\n",
        "Every number is measured on the real test split, which no model trained on.\n",
        "## Metrics\n",
        metrics + "\n",
        "## Params\n",
        params + "\n",
    ]
    if summary.is_file():
        lines += ["## This run\n", summary.read_text().replace("### ", "#### ") + "\n"]
    lines += ["## Plots\n", *render_plots(rev, out.resolve())]
    report = out / "report.md"
    report.write_text("\n".join(lines))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="HEAD", help="git revision to compare with (HEAD)")
    parser.add_argument("--out", type=Path, default=Path("report"), help="output folder")
    args = parser.parse_args()
    try:
        report = build_report(args.rev, args.out)
    except ReportError as error:
        sys.exit(f"report: {error}")
    print(f"wrote {report}")


if __name__ == "__main__":
    main()
