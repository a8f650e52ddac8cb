"""The real-only baseline search: candidate classifiers on real images alone, scored on
held-out training images (never the test split); docs/results/search/<grid>.csv.

    python scripts/search.py --grid baseline              # run what is missing, then summarise
    python scripts/search.py --grid baseline --shard 1/2  # one of two lanes (or machines)
    python scripts/search.py --grid baseline --plan       # list the points, run nothing
    python scripts/search.py --datasets mnist --n-per-class 10 --seeds 2  # part of the grid
    python scripts/search.py --grid baseline --summary    # the table from the rows alone
"""

import argparse

from fewshot_results.search import read_rows, run_search
from fewshot_results.search_grid import ROWS_DIR, candidate_order, load_search
from fewshot_results.shards import parse_shard, shard_points
from fewshot_results.stats import search_summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", default="baseline", help="conf/study/<grid>.yaml")
    parser.add_argument("--shard", type=parse_shard, metavar="K/N")
    parser.add_argument("--datasets", nargs="+", help="only these datasets of the grid")
    parser.add_argument("--n-per-class", type=int, nargs="+", help="only these sizes")
    parser.add_argument("--seeds", type=int, nargs="+", help="only these subsets")
    parser.add_argument("--plan", action="store_true", help="list the points only")
    parser.add_argument("--summary", action="store_true", help="summarise the rows only")
    args = parser.parse_args()
    out = ROWS_DIR / f"{args.grid}.csv"
    points = [
        p
        for p in load_search(args.grid)
        if (not args.datasets or p.dataset in args.datasets)
        and (not args.n_per_class or p.n_per_class in args.n_per_class)
        and (not args.seeds or p.subset_seed in args.seeds)
    ]
    if not points:
        parser.error(f"no point of conf/study/{args.grid}.yaml matches the filters")
    points = shard_points(points, args.shard)
    if args.plan:
        print("\n".join(str(p) for p in points))
        return
    if not args.summary:
        run_search(points, out)
    print(search_summary(read_rows(out), candidate_order(args.grid)).to_string(index=False))


if __name__ == "__main__":
    main()
