"""Where each stage reads and writes; dvc.yaml declares the same paths."""

from pathlib import Path

PARAMS_CHECKED = Path("data/params-checked.txt")
CHECKSUM_DIR = Path("data/checksums")
RAW_DIR = Path("data/raw")
TRAIN_DIR = Path("data/train")  # every training source lives under here
REAL_DIR = TRAIN_DIR / "real"
SUBSET_FILE = REAL_DIR / "subset.npz"
SUBSET_INDICES = REAL_DIR / "indices.csv"
SYNTHETIC_DIR = TRAIN_DIR / "synthetic"
GENERATOR = Path("models/generator.pt")
CGAN_LIVE = Path("dvclive/train_cgan")
PLOTS = Path("plots")
METRICS = Path("metrics")
SOURCES = ("real", "synthetic", "mixed")


def checksum_file(dataset: str) -> Path:
    return CHECKSUM_DIR / f"{dataset}.sha256"


def classifier_file(source: str) -> Path:
    return Path("models/classifier") / f"{source}.pt"


def classifier_live(source: str) -> Path:
    return Path("dvclive/train_classifier") / source


def eval_metrics(source: str) -> Path:
    return METRICS / "evaluate" / f"{source}.json"


JUDGE = Path("models/judge.pt")
JUDGE_LIVE = Path("dvclive/train_judge")
GENERATOR_METRICS = METRICS / "evaluate_generator.json"
GENERATOR_PLOTS = PLOTS / "evaluate_generator"
