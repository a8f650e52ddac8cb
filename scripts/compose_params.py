"""Write params.yaml from conf/ exactly as `dvc exp run` composes it (DVC's Hydra support).

python scripts/compose_params.py                      # the defaults: the recipe
python scripts/compose_params.py cgan=fewshot         # a preset, as `dvc exp run -S` takes it
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from dvc.utils.hydra import compose_and_dump

CONF = Path(__file__).resolve().parents[1] / "conf"


def compose(overrides: list[str], output: Path) -> None:
    with tempfile.TemporaryDirectory() as plugins:  # no Hydra plugins to load
        compose_and_dump(output, str(CONF), None, "config", plugins, overrides)


if __name__ == "__main__":
    compose(sys.argv[1:], Path("params.yaml"))
    print("params.yaml composed from conf/", *sys.argv[1:])
