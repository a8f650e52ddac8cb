"""A search grid (conf/study/<name>.yaml with a `search:` list): its points, checked before any
work, and its candidates' order. No torch here: the pages read the order too."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CONF = Path(__file__).resolve().parents[1] / "conf"
ROWS_DIR = Path("docs/results/search")
BLOCK_KEYS = {"dataset", "n_per_class", "classifiers", "seeds"}


@dataclass(frozen=True, order=True)
class Point:
    """One training run of the search; sorted by seed first, so every candidate gets its first
    subset before any gets a second."""

    subset_seed: int
    dataset: str
    n_per_class: int
    classifier: str

    @property
    def key(self) -> tuple[str, int, str, int]:
        return (self.dataset, self.n_per_class, self.classifier, self.subset_seed)


def load_search(name: str, grids: Path = CONF / "study") -> list[Point]:
    """The points of search grid `name`, checked: each block names a dataset, sizes, seeds
    and classifiers that are presets of conf/classifier/."""
    points = []
    for block in _blocks(name, grids):
        points += [
            Point(seed, block["dataset"], n, classifier)
            for n in block["n_per_class"]
            for classifier in block["classifiers"]
            for seed in block["seeds"]
        ]
    return sorted(points)


def candidate_order(name: str, grids: Path = CONF / "study") -> list[str]:
    """The grid's classifiers in the order its blocks list them: from the fewest changes to
    the most, the order in which a tie on held-out images is broken."""
    names = [c for block in _blocks(name, grids) for c in block["classifiers"]]
    return list(dict.fromkeys(names))


def _blocks(name: str, grids: Path) -> list[dict[str, Any]]:
    path = grids / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in grids.glob("*.yaml") if "search" in _read(p))
        raise SystemExit(f"error: --grid {name}: no {path} (search grids: {', '.join(known)})")
    blocks = _read(path).get("search")
    if not isinstance(blocks, list) or not blocks:
        raise SystemExit(f"error: {path}: expected a `search:` list of blocks")
    for i, block in enumerate(blocks):
        missing, unknown = BLOCK_KEYS - set(block), set(block) - BLOCK_KEYS
        if missing or unknown:
            raise SystemExit(
                f"error: {path}: search block {i + 1} needs exactly {sorted(BLOCK_KEYS)} "
                f"(missing {sorted(missing)}, unknown {sorted(unknown)})"
            )
        for classifier in block["classifiers"]:
            if not (CONF / "classifier" / f"{classifier}.yaml").is_file():
                raise SystemExit(
                    f"error: {path}: no classifier preset conf/classifier/{classifier}.yaml"
                )
    return blocks


def _read(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {}
