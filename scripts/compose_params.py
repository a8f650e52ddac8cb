"""Write params.yaml from conf/ exactly as `dvc exp run` composes it (DVC's Hydra support).

python scripts/compose_params.py                      # the defaults: the recipe
python scripts/compose_params.py cgan=fewshot         # a preset, as `dvc exp run -S` takes it
"""

import sys
from pathlib import Path

from fewshot_results.compose import compose

if __name__ == "__main__":
    compose(sys.argv[1:], Path("params.yaml"))
    print("params.yaml composed from conf/", *sys.argv[1:])
