"""The study: real, synthetic and mixed training data against n_per_class, over random subsets.

    python scripts/study.py                      # queue, run, collect: the default grid
    python scripts/study.py --plan               # print what would be queued, run nothing
    python scripts/study.py --grid protocol      # the timed protocol, and its time
    python scripts/study.py --collect-only       # rebuild the CSV, table and figures
    python scripts/study.py --presets fewshot-mlp --n-per-class 100 --seeds 1   # one point
    python scripts/study.py --collect-only --rev abc1234   # the experiments run on abc1234
    python scripts/study.py --merge ../lane2/docs/results/study/study.csv   # another clone's rows
    python scripts/study.py --tabulate-only      # the table and figures from the CSV alone
    python scripts/study.py --pages              # the README's and results page's blocks
    python scripts/study.py --grid curve --shard 2/4 --remote origin   # machine 2 of 4

A grid (conf/study/<name>.yaml) is data, a preset a file of conf/experiment/; every point is a
queued DVC experiment, resumable and shardable over machines (fewshot_results/study.py says
how). Needs a clean git workspace: queued experiments run the committed code.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import sys
from pathlib import Path

import pandas as pd

from fewshot_results.experiments import (
    check_remote,
    pull_experiments,
)
from fewshot_results.registry import PRESETS_DIR, REGISTRY, former_names, load_grid, presets
from fewshot_results.shards import parse_shard, shard_points
from fewshot_results.study import collect, merge_csv, run_study, tabulate, write_pages


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--grid",
        default="default",
        help="the grid to run (conf/study/<GRID>.yaml); the flags below override its keys",
    )
    parser.add_argument(
        "--protocol", action="store_true", help="the timed protocol: the same as --grid protocol"
    )
    parser.add_argument("--datasets", nargs="+", choices=("mnist", "fashion-mnist"))
    parser.add_argument(
        "--presets",
        "--configs",
        nargs="+",
        metavar="PRESET",
        help="named configurations (conf/experiment/); a former name runs its preset",
    )
    parser.add_argument("--n-per-class", type=int, nargs="+")
    parser.add_argument("--seeds", type=int, nargs="+")
    parser.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="extra params for every experiment, as `dvc exp run -S` (e.g. a shorter budget)",
    )
    parser.add_argument("--jobs", type=int, help="experiments run at a time")
    parser.add_argument(
        "--shard",
        type=parse_shard,
        metavar="K/N",
        help="run only the K-th of N slices of the grid (one per machine; see --remote)",
    )
    parser.add_argument(
        "--remote",
        metavar="GIT_REMOTE",
        help="share the study through this git remote and the default DVC remote: points "
        "any machine pushed are not run again, each finished batch is pushed "
        "(`dvc exp push --run-cache`), and --collect-only first pulls them all",
    )
    parser.add_argument("--out", type=Path, default=Path("docs/results/study/study"))
    parser.add_argument("--plan", action="store_true", help="print the queue commands only")
    parser.add_argument("--collect-only", action="store_true")
    parser.add_argument(
        "--merge",
        type=Path,
        metavar="CSV",
        help="merge the rows of another clone's study CSV into --out, then tabulate",
    )
    parser.add_argument(
        "--tabulate-only",
        action="store_true",
        help="rebuild the table and figures from the committed CSV alone (no DVC)",
    )
    parser.add_argument(
        "--pages",
        action="store_true",
        help="write the README's and the results page's generated blocks from the CSV",
    )
    parser.add_argument(
        "--rev",
        action="append",
        help="with --collect-only: gather the experiments of this commit (default HEAD)",
    )
    args = parser.parse_args(argv)
    grid = load_grid("protocol" if args.protocol else args.grid)
    for key, default in (("datasets", ["mnist"]), ("jobs", 1), ("set", [])):
        grid.setdefault(key, default)
    for key, value in grid.items():
        if getattr(args, key) is None:  # a flag given beside the grid wins
            setattr(args, key, value)
    missing = [key for key in ("presets", "n_per_class", "seeds") if not args.__dict__.get(key)]
    if missing:
        parser.error(f"--grid {args.grid} sets no {', '.join(missing)}: give them as flags")
    args.presets = [resolve_preset(name, parser) for name in args.presets]
    return args


def resolve_preset(name: str, parser: argparse.ArgumentParser) -> str:
    """A preset by its name or a former one; anything else ends in one line naming the choices."""
    known = presets()
    if name in known:
        return name
    now = former_names().get(name)
    if now in known:
        print(f"note: {name} is now the preset {now} ({REGISTRY})")
        return now
    parser.error(
        f"--presets {name}: not a preset in {PRESETS_DIR}/ (choose from {', '.join(known)})"
    )


def main() -> None:
    args = parse_args()
    if args.tabulate_only or args.pages:
        rows = pd.read_csv(args.out.with_suffix(".csv"))
        if args.pages:
            print("->", ", ".join(map(str, write_pages(rows))))
        else:
            tabulate(rows, args.out)
        return
    if args.merge:
        if not args.merge.is_file():
            sys.exit(f"error: --merge {args.merge}: no such file")
        merge_csv(args.out, args.merge)
        return
    if shutil.which("dvc") is None:
        sys.exit("error: `dvc` is not on PATH: run `make study` or activate .venv first")
    if args.remote:
        check_remote(args.remote)
    if args.collect_only:
        if args.remote:
            pull_experiments(args.remote)
        collect(args.out, args.rev)
        return
    grid = list(itertools.product(args.datasets, args.presets, args.n_per_class, args.seeds))
    points = shard_points(grid, args.shard)
    if args.shard:
        print(f"shard {args.shard[0]}/{args.shard[1]}: {len(points)} of {len(grid)} point(s)")
    run_study(points, tuple(args.set), args.jobs, args.remote, args.out, args.plan)


if __name__ == "__main__":
    main()
