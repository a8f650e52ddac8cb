"""Write the pull-request report: this branch's results against a base revision.

    python scripts/report.py --rev origin/main --out report     # or: make report REV=origin/main

report/report.md opens with what a reviewer needs, in this order:

1. stale results, loudly: params or code that a stage depends on differ from what dvc.lock
   recorded, so the committed numbers do not describe this commit (exit status 3 with
   --strict, which the workflow uses to fail);
2. a change of machine between base and head, with the spread measured across machines;
3. one table: real-test accuracy per training source, mixed minus real and the generator's
   label fidelity, recall and FID, at base and head, with each accuracy's 95% interval from
   the test-set size and each change labelled against the larger of test-set noise and the
   run-to-run spread the study measured for this configuration (docs/results/study/study.csv),
   the limit printed beside it;

then, collapsed, the metrics that changed, `dvc params diff`, and a few plots as PNG.
Every file it reads is committed (`cache: false`), so it works on a fresh clone with no DVC
cache and no remote. `cml comment update report/report.md` posts it (.github/workflows/).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fewshot_results.gitfiles import ReportError
from fewshot_results.report import EXIT_STALE, build_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="HEAD", help="git revision to compare with (HEAD)")
    parser.add_argument("--out", type=Path, default=Path("report"), help="output folder")
    parser.add_argument(
        "--strict", action="store_true", help=f"exit {EXIT_STALE} when the results are stale"
    )
    args = parser.parse_args()
    try:
        report, stale = build_report(args.rev, args.out)
    except ReportError as error:
        print(f"report: {error}", file=sys.stderr)
        sys.exit(2)
    print(f"wrote {report}")
    if stale:
        print(
            f"report: stale results, {len(stale)} stage(s) would rerun: {', '.join(stale)}",
            file=sys.stderr,
        )
        if args.strict:
            sys.exit(EXIT_STALE)


if __name__ == "__main__":
    main()
