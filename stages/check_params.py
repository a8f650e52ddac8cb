"""Stage 0: validate all of params.yaml before any other stage runs.

DVC deletes a stage's outputs before running it. This stage heads the DAG, so a bad value
(`dvc exp run -S n_per_class=0`, a typo like `-S +cgan.epoch=5`) stops `dvc repro` here, with
every earlier output still in place. Its output never changes, so it never triggers reruns.
"""

import subprocess
from pathlib import Path

from fewshot import paths
from fewshot.errors import ParamError
from fewshot.io import atomic_path
from fewshot.params import load_params
from fewshot.stage import run

PARAMS = Path("params.yaml")


def recovery_hint(params: Path = PARAMS) -> str:
    """How to get back the committed params.yaml, when the file differs from it. A failed
    `dvc exp run -S key=value` leaves its value in params.yaml, and DVC puts the file's
    timestamp back, so `git status` (and `git checkout`) may not see the change."""
    committed = subprocess.run(
        ["git", "show", f"HEAD:{params.as_posix()}"], capture_output=True, text=True
    )
    if committed.returncode != 0 or not params.is_file():
        return ""
    if committed.stdout == params.read_text():
        return ""
    return (
        f"\n{params} differs from the last commit (a failed `dvc exp run -S` leaves its "
        f"values there). To restore it: git show HEAD:{params} > {params}"
    )


def main() -> None:
    try:
        load_params()
    except ParamError as error:
        raise ParamError(f"{error}{recovery_hint()}") from None
    with atomic_path(paths.PARAMS_CHECKED) as tmp:
        tmp.write_text("params.yaml passed validation\n")


if __name__ == "__main__":
    run(main)
