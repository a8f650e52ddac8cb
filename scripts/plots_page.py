"""Write the plots page: dvc.yaml's plots, grouped, with a table of contents, offline.

python scripts/plots_page.py                     # or: make plots   -> dvc_plots/index.html
python scripts/plots_page.py --rev main          # the workspace against a revision
"""

import argparse
from pathlib import Path

from fewshot_results.plots_page import build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", help="compare the workspace with this git revision")
    parser.add_argument("--out", type=Path, default=Path("dvc_plots"), help="output folder")
    args = parser.parse_args()
    print(f"wrote {build(args.rev, args.out)}")


if __name__ == "__main__":
    main()
