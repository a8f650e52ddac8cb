"""Stage 1: fetch the dataset's four IDX files, verify their SHA-256, write data/raw/.

Offline, the .gz files come from the folder named by MNIST_DIR (FASHION_MNIST_DIR for
fashion-mnist, which defaults to the Debian package's folder); online, torchvision downloads them.
"""

from fewshot import paths
from fewshot.data import fetch_dataset
from fewshot.schema import common
from fewshot.schema.base import load_sections
from fewshot.stage import run


def main() -> None:
    dataset = load_sections(common)["data"]["dataset"]
    checksums = paths.checksum_file(dataset)
    origin = fetch_dataset(dataset, paths.RAW_DIR, checksums)
    print(f"{dataset}: 4 files from {origin} match {checksums} -> {paths.RAW_DIR}/")


if __name__ == "__main__":
    run(main)
