"""Stale results: stages whose params or code changed since dvc.lock, and those after them."""

from __future__ import annotations

import json
from typing import Any

import yaml

from fewshot_results.gitfiles import git_file, run


def overlaps(a: str, b: str) -> bool:
    """Two DVC paths name the same file or one lies inside the other."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


# A stage whose output is the same whatever it reran with: nothing after it reruns with it.
CONSTANT_OUTPUT = {"check_params"}


def stale_stages(status: dict[str, Any], lock: dict[str, Any]) -> dict[str, list[str]]:
    """Stages whose own params or git-tracked dependencies changed since dvc.lock, with what
    changed, then every stage downstream of them ("after ..."). `status` is
    `dvc status --json`; a dependency that is another stage's output (data, models) only
    looks changed in a clone without the DVC cache, so it is not counted."""
    outs = {o["path"] for s in lock.get("stages", {}).values() for o in s.get("outs", [])}

    changed: dict[str, list[str]] = {}
    for stage, entries in status.items():
        reasons = []
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            for params in (entry.get("changed params") or {}).values():
                reasons += [f"param {name}" for name in params]
            for path, state in (entry.get("changed deps") or {}).items():
                if isinstance(state, dict):  # a params file: {name: "new" | "modified" | ...}
                    reasons += [f"param {name} {how}" for name, how in state.items()]
                elif not any(overlaps(path, o) for o in outs):
                    reasons.append(f"{path} {state}")
        if reasons:
            changed[stage] = sorted(set(reasons))
    # Everything downstream reruns too: a stage that depends on a changed stage's output.
    stages = lock.get("stages", {})
    frontier = [s for s in changed if s not in CONSTANT_OUTPUT]
    while frontier:
        upstream = frontier.pop()
        made = [o["path"] for o in stages.get(upstream, {}).get("outs", [])]
        for name, stage in stages.items():
            deps = [d["path"] for d in stage.get("deps", [])]
            hit = any(overlaps(d, m) for d in deps for m in made)
            if hit and name not in changed:
                changed[name] = [f"after {upstream}"]
                frontier.append(name)
    return changed


def find_stale() -> dict[str, list[str]]:
    lock_text = git_file(None, "dvc.lock")
    if lock_text is None:
        return {"(all)": ["no dvc.lock: the pipeline has never been run"]}
    status = json.loads(run("dvc", "status", "--json") or "{}")
    return stale_stages(status, yaml.safe_load(lock_text))
