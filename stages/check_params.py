"""Stage 0: validate all of params.yaml before any other stage runs.

DVC deletes a stage's outputs before running it. This stage heads the DAG, so a bad value
(`dvc exp run -S n_per_class=0`, a typo like `-S +cgan.epoch=5`) stops `dvc repro` here, with
every earlier output still in place. Its output never changes, so it never triggers reruns.
"""

from fewshot import paths
from fewshot.io import atomic_path, run
from fewshot.params import load_params


def main() -> None:
    load_params()
    with atomic_path(paths.PARAMS_CHECKED) as tmp:
        tmp.write_text("params.yaml passed validation\n")


if __name__ == "__main__":
    run(main)
