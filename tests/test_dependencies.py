"""dvc.yaml must declare every project file a stage imports and every param it reads: a
missing dependency leaves stale results in DVC's cache, the worst bug a DVC project can have."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

SPEC = yaml.safe_load((REPO / "dvc.yaml").read_text())


def stage_specs() -> dict[str, dict]:
    """Each stage's definition, with `foreach` / `matrix` templates taken once."""
    return {name: stage.get("do", stage) for name, stage in SPEC["stages"].items()}


def script_of(stage: dict) -> Path:
    module = re.search(r"python -m (stages\.\w+)", stage["cmd"]).group(1)
    return Path(module.replace(".", "/") + ".py")


def project_imports(path: Path, seen: set[Path] | None = None) -> set[Path]:
    """The project modules (fewshot/**.py) that `path` imports, transitively."""
    seen = set() if seen is None else seen
    for node in ast.walk(ast.parse((REPO / path).read_text())):
        modules = []
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fewshot"):
            modules.append(node.module)
            # `from fewshot import paths`, `from fewshot.schema import cgan`: modules too
            modules += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            modules += [a.name for a in node.names if a.name.startswith("fewshot")]
        for module in modules:
            file = Path(module.replace(".", "/") + ".py")
            # a subpackage's __init__.py runs first: fewshot/schema/__init__.py
            package = file.parent / "__init__.py"
            for found in (package, file) if file.parent != Path("fewshot") else (file,):
                if (REPO / found).exists() and found not in seen:
                    seen.add(found)
                    project_imports(found, seen)
    return seen


def params_read(path: Path) -> set[str]:
    """Dotted keys of every `params[...][...]` subscript chain in a stage script."""
    keys = set()
    nodes = list(ast.walk(ast.parse((REPO / path).read_text())))
    inner = {id(n.value) for n in nodes if isinstance(n, ast.Subscript)}
    for node in nodes:
        if id(node) in inner:  # part of a longer chain: `params["data"]` in `...["dataset"]`
            continue
        chain = []
        while isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            chain.append(node.slice.value)
            node = node.value
        if chain and isinstance(node, ast.Name) and node.id == "params":
            keys.add(".".join(reversed(chain)))
    return keys


@pytest.mark.parametrize("name", sorted(stage_specs()))
def test_stage_depends_on_exactly_the_project_code_it_imports(name: str) -> None:
    stage = stage_specs()[name]
    script = script_of(stage)
    declared = {Path(d) for d in stage["deps"] if str(d).endswith(".py")}
    # `python -m stages.<name>` runs stages/__init__.py first (the thread settings)
    package = Path("stages/__init__.py")
    needed = {script, package} | project_imports(script) | project_imports(package)
    assert not needed - declared, f"{name}: dvc.yaml misses {sorted(map(str, needed - declared))}"
    assert not declared - needed, (
        f"{name}: dvc.yaml lists unused {sorted(map(str, declared - needed))}"
    )


@pytest.mark.parametrize("name", sorted(stage_specs()))
def test_stage_declares_every_param_it_reads(name: str) -> None:
    stage = stage_specs()[name]
    declared = set()
    for entry in stage.get("params", []):
        declared |= set(entry) if isinstance(entry, dict) else {entry}
    if "params.yaml" in declared:  # the whole file
        return
    for key in params_read(script_of(stage)):
        covered = any(key == d or key.startswith(d + ".") for d in declared)
        assert covered, f"{name} reads params['{key}'] but dvc.yaml does not declare it"


def test_the_scan_finds_what_it_should() -> None:
    """The two scans above must be able to fail: check them on known stages."""
    assert Path("fewshot/gan.py") in project_imports(Path("stages/train_cgan.py"))
    assert Path("fewshot/training.py") in project_imports(Path("fewshot/gan.py"))
    assert {"cgan.generator", "generate", "classifier.arch", "seed", "device"} <= params_read(
        Path("stages/generate.py")
    )


def test_the_pipeline_page_draws_the_current_dag() -> None:
    import subprocess
    import sys

    drawn = subprocess.run(
        [sys.executable, "-m", "dvc", "dag", "--mermaid"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    page = (REPO / "docs/pipeline.md").read_text()
    block = re.search(r"```mermaid\n(.*?)\n```", page, re.S)
    assert block and block.group(1).strip() == drawn, "docs/pipeline.md's DAG is stale"


def declared_paths() -> set[Path]:
    """Every dep and output (outs, metrics, plots) of every stage, `foreach` / `matrix` expanded."""
    found = set()
    for stage in SPEC["stages"].values():
        body = stage.get("do", stage)
        entries = [e if isinstance(e, str) else next(iter(e)) for e in body.get("deps", [])]
        for field in ("outs", "metrics", "plots"):
            entries += [e if isinstance(e, str) else next(iter(e)) for e in body.get(field, [])]
        keys = stage.get("foreach") or {s: s for s in stage.get("matrix", {}).get("source", [])}
        for entry in entries:
            for key in keys or [None]:
                if key is not None:
                    entry_key = entry.replace("${key}", key).replace("${item.source}", key)
                    item = keys[key] if isinstance(keys, dict) else key
                    found.add(Path(entry_key.replace("${item}", str(item))))
                else:
                    found.add(Path(entry))
    return found


def test_paths_in_the_code_are_the_paths_in_dvc_yaml() -> None:
    """fewshot/paths.py and dvc.yaml name the same files: renaming one of them only fails."""
    from fewshot import paths

    declared = declared_paths()
    named = [v for v in vars(paths).values() if isinstance(v, Path)]
    named += [f(s) for f in (paths.classifier_file, paths.classifier_live) for s in paths.SOURCES]
    named += [paths.eval_metrics(s) for s in paths.SOURCES]
    named.append(paths.checksum_file("mnist"))
    for path in named:
        # declared, a file inside a declared folder, or a folder holding declared outputs
        known = (
            path in declared
            or any(parent in declared for parent in path.parents)
            or any(path in d.parents for d in declared)
        )
        assert known, f"{path} (fewshot/paths.py) matches nothing dvc.yaml declares"
    assert Path("models/renamed.pt") not in declared  # the check can fail
