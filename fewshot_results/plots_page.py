"""The plots page: dvc.yaml's plots, grouped, with a table of contents, offline.

DVC collects the data (`dvc plots show`/`dvc plots diff --json`) and fills the templates in
.dvc/plots/; this page shows each plot once (DVC also lists every file of a stage's DVCLive
folder under its raw path), in four sections, and inlines vega, vega-lite and vega-embed from
fewshot_results/vendor/, so it renders without a network.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from fewshot import paths

VENDOR = Path(__file__).resolve().parent / "vendor"
SCRIPTS = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")
SOURCE_ORDER = {source: i for i, source in enumerate(paths.SOURCES)}
SECTIONS = (
    "Accuracy on the real test set",
    "The generator's images",
    "CGAN training",
    "Classifier and judge training",
)


def section_of(plot_id: str) -> str:
    if plot_id.startswith(("CGAN", "dvclive/train_cgan")):
        return SECTIONS[2]
    if plot_id.startswith(("Classifier", "Judge")):
        return SECTIONS[3]
    if "evaluate_generator" in plot_id or plot_id.startswith(("Generated", "Distance", "Within")):
        return SECTIONS[1]
    return SECTIONS[0]


def declared(dvc_yaml: Path = Path("dvc.yaml")) -> tuple[list[str], list[str]]:
    """The titles of dvc.yaml's plot definitions and the files or folders listed bare."""
    titles, bare = [], []
    for entry in yaml.safe_load(dvc_yaml.read_text()).get("plots", []):
        (titles if isinstance(entry, dict) else bare).append(
            next(iter(entry)) if isinstance(entry, dict) else entry
        )
    return titles, bare


def shown(plot_ids: list[str], titles: list[str], bare: list[str]) -> list[str]:
    """The plots to show, in dvc.yaml's order: each definition once, no raw duplicates."""
    order = {t: i for i, t in enumerate(titles)}
    for i, path in enumerate(bare):
        order.setdefault(path, len(titles) + i)

    def rank(plot_id: str) -> float | None:
        if plot_id in order:
            return order[plot_id]
        parent = next((b for b in bare if plot_id.startswith(b.rstrip("/") + "/")), None)
        if parent is None:
            return None
        # A folder's files per training source in the pipeline's order (real, synthetic, mixed).
        stem = Path(plot_id).stem
        return order[parent] + 0.001 * (1 + SOURCE_ORDER.get(stem, len(SOURCE_ORDER)))

    kept = [(rank(p), p) for p in plot_ids if rank(p) is not None]
    return [p for _, p in sorted(kept)]


def dvc_plots(rev: str | None, out: Path) -> dict[str, list[dict[str, Any]]]:
    cmd = ["dvc", "plots", "diff", rev] if rev else ["dvc", "plots", "show"]
    result = subprocess.run([*cmd, "--json", "-o", str(out)], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"plots page: `{' '.join(cmd)}` failed: {result.stderr.strip()}")
    payload = json.loads(result.stdout)
    if payload.get("errors") and not payload.get("data"):
        raise SystemExit(f"plots page: DVC found no plot data: {payload['errors']}")
    return payload.get("data") or {}


def side_name(revision: str | None, rev: str) -> str:
    return "head" if revision == "workspace" else f"base ({rev})"


def base_then_head(spec: dict[str, Any], rev: str) -> dict[str, Any]:
    """`dvc plots diff`'s chart with its revisions named as the report names them
    (`workspace` is head) and base's rows first, so that base is drawn above (or left of)
    head."""
    values = [{**v, "rev": side_name(v.get("rev"), rev)} for v in spec["data"]["values"]]
    values.sort(key=lambda v: v["rev"] == "head")  # stable: base first, each in its order
    return {**spec, "data": {**spec["data"], "values": values}}


# What hides a channel's labels, by channel: with one revision, `rev` is a single value that
# DVC names "workspace", which would otherwise appear as a legend, an axis or a header.
HIDDEN = {
    **{axis: {"axis": None} for axis in ("x", "y")},
    **{facet: {"header": None} for facet in ("row", "column")},
    **{key: {"legend": None} for key in ("color", "fill", "stroke", "strokeDash", "shape")},
}


def one_revision(spec: Any, channel: str | None = None) -> Any:
    """The chart without the revision's labels: every channel keyed on `rev` keeps its field
    (the marks stay where they are) but loses its legend, axis or header."""
    if isinstance(spec, list):
        return [one_revision(item) for item in spec]
    if not isinstance(spec, dict):
        return spec
    if spec.get("field") == "rev" and channel is not None:
        return {**spec, "title": None, **HIDDEN[channel]} if channel in HIDDEN else spec
    return {
        key: value
        if key == "data"
        else one_revision(value, key if isinstance(value, dict) else None)
        for key, value in spec.items()
    }


def anchor(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def image_caption(plot_id: str) -> str:
    match = re.search(r"epoch_0*(\d+)\.png$", plot_id)
    if match:
        return f"epoch {match.group(1)}"
    if "misclassified" in plot_id:
        return f"misclassified test images, trained on {Path(plot_id).stem}"
    return Path(plot_id).stem.replace("_", " ")


def render(
    data: dict[str, list[dict[str, Any]]], ids: list[str], out: Path, rev: str | None = None
) -> str:
    """The page's HTML: a contents list, then each section's charts and images; with `rev`,
    base (`rev`) beside head (the workspace)."""
    charts, blocks = [], {s: [] for s in SECTIONS}
    for plot_id in ids:
        section = section_of(plot_id)
        # Base before head, as in the report (an image comes once per revision).
        for entry in sorted(data[plot_id], key=lambda e: "workspace" in e.get("revisions", [])):
            if entry["type"] == "vega":
                div = f"chart-{len(charts)}"
                spec = (
                    base_then_head(entry["content"], rev) if rev else one_revision(entry["content"])
                )
                charts.append((div, spec))
                blocks[section].append(f'<figure class="chart" id="{div}"></figure>')
            elif entry["type"] == "image":
                src = Path(entry["url"]).resolve().relative_to(out.resolve()).as_posix()
                caption = image_caption(plot_id)
                if rev:  # a single revision needs no name
                    sides = [side_name(r, rev) for r in entry["revisions"]]
                    caption += f" ({', '.join(sides)})"
                caption = html.escape(caption)
                wide = "" if "epoch_" in plot_id else " wide"
                blocks[section].append(
                    f'<figure class="image{wide}"><img src="{html.escape(src)}" alt="{caption}">'
                    f"<figcaption>{caption}</figcaption></figure>"
                )
    contents = "".join(
        f'<li><a href="#{anchor(s)}">{s}</a> ({len(blocks[s])})</li>' for s in SECTIONS if blocks[s]
    )
    body = "".join(
        f'<section id="{anchor(s)}"><h2>{s}</h2><div class="grid">{"".join(b)}</div></section>'
        for s, b in blocks.items()
        if b
    )
    scripts = "".join(f"<script>{(VENDOR / name).read_text()}</script>" for name in SCRIPTS)
    embed = json.dumps([{"id": d, "spec": spec} for d, spec in charts])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Plots: few-shot CGAN pipeline</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 1200px;
       padding: 0 1rem; }}
nav ul {{ columns: 2; }} h2 {{ border-bottom: 1px solid #ccc; padding-bottom: .2rem; }}
.grid {{ display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start; }}
figure {{ margin: 0; }} figure.image img {{ image-rendering: pixelated; max-width: 100%; }}
figure.image:not(.wide) img {{ width: 260px; }} figure.image.wide img {{ width: 380px; }}
figcaption {{ font-size: .85rem; color: #444; }}
</style>{scripts}</head>
<body><h1>Plots</h1>
<p>The first section's accuracies are on the real test set, which no model trained on; the
training sections show each model's accuracy on its own training data.</p>
<nav><ul>{contents}</ul></nav>{body}
<script>
for (const chart of {embed}) {{
  vegaEmbed("#" + chart.id, chart.spec, {{renderer: "svg", actions: false}})
    .catch((error) => console.error(chart.id, error));
}}
</script></body></html>
"""


def build(rev: str | None, out: Path) -> Path:
    if not Path("dvc.yaml").is_file():
        raise SystemExit("plots page: no dvc.yaml here: run it from the repository's root")
    if out.exists():
        shutil.rmtree(out)
    data = dvc_plots(rev, out)
    ids = shown(list(data), *declared())
    if not ids:
        raise SystemExit("plots page: no plot has data yet: run `dvc repro` first")
    page = out / "index.html"
    page.write_text(render(data, ids, out, rev))
    return page
