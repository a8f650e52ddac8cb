"""The study's experiments in DVC: their names, the queue, the workers it leaves, and the
shared git and DVC remotes that let several machines run one grid."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import psutil

# Each stage run by the study appends its wall time and params here ($FEWSHOT_RESOURCE_LOG);
# the experiment with the same params gets its `train_cgan` time from it. Empty where the
# CGAN came from the run cache (nothing was trained) or ran before the study kept times.
STAGE_LOG = Path(".dvc/tmp/study-stages.jsonl")


def experiment_name(dataset: str, config: str, n_per_class: int, seed: int) -> str:
    return f"study-{dataset}-{config}-n{n_per_class}-s{seed}"


def parse_name(name: str) -> dict[str, Any] | None:
    """The protocol point an experiment name stands for; None for other experiments."""
    if not name.startswith("study-"):
        return None
    head, n_part, seed_part = name.removeprefix("study-").rsplit("-", 2)
    dataset = next((d for d in ("fashion-mnist", "mnist") if head.startswith(d + "-")), None)
    if dataset is None or not n_part.startswith("n") or not seed_part.startswith("s"):
        return None
    return {
        "dataset": dataset,
        "config": head.removeprefix(dataset + "-"),
        "n_per_class": int(n_part[1:]),
        "subset_seed": int(seed_part[1:]),
    }


def queue_command(
    dataset: str, config: str, n_per_class: int, seed: int, extra: tuple[str, ...] = ()
) -> list[str]:
    sets = [
        f"experiment={config}",
        f"data.dataset={dataset}",
        "data.subset=random",
        f"n_per_class={n_per_class}",
        f"seed={seed}",
        *extra,
    ]
    name = experiment_name(dataset, config, n_per_class, seed)
    cmd = ["dvc", "exp", "run", "--queue", "-n", name]
    for item in sets:
        cmd += ["-S", item]
    return cmd


def experiments(show: Any, baseline: str | None = None) -> Iterator[dict[str, Any]]:
    """Every finished experiment record in `dvc exp show --json` output, with the git commit
    it was run on under `"baseline"` (experiments are nested under their baseline commit's
    record)."""
    if isinstance(show, list):
        for item in show:
            yield from experiments(item, baseline)
    elif isinstance(show, dict):
        executor = show.get("executor") or {}
        if executor.get("state") not in (None, "success"):
            return  # queued, running or failed: its record shows the baseline's metrics
        if baseline is None and show.get("rev") not in (None, "workspace"):
            baseline = show["rev"]
        if isinstance(show.get("data"), dict) and "name" in show:
            yield {**show, "baseline": baseline}
        for key in ("experiments", "revs"):
            if show.get(key):
                yield from experiments(show[key], baseline)


def exp_show(revs: list[str] | None = None) -> list[dict[str, Any]]:
    """The experiments of HEAD, or of each commit in `revs`."""
    cmd = ["dvc", "exp", "show", "--json"]
    for rev in revs or []:
        cmd += ["--rev", rev]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return list(experiments(json.loads(out)))


def queued_tasks() -> list[str]:
    """The tasks waiting in the DVC queue, which `dvc exp run --run-all` runs first."""
    out = subprocess.run(["dvc", "queue", "status"], check=True, capture_output=True, text=True)
    return parse_queue_status(out.stdout)


def parse_queue_status(text: str) -> list[str]:
    """The study names (or, for other tasks, the task ids) of the `Queued` rows of
    `dvc queue status`, whose columns are Task, Name, Created (a time or a date) and Status."""
    names = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) > 1 and parts[-1] == "Queued":
            names.append(next((p for p in parts[1:-1] if parse_name(p)), parts[0]))
    return names


def stage_env(jobs: int, environ: Mapping[str, str]) -> dict[str, str]:
    """The queued stages' environment: the stage log, and how many experiments run side by
    side ($FEWSHOT_JOBS), from which each stage takes its share of the CPUs as threads
    (fewshot/threads.py; OMP_NUM_THREADS still wins). Small networks scale badly across
    threads: on 2 cores, two few-shot CGANs at one thread each train 1.3x faster than one
    after the other at two (docs/results.md)."""
    return {
        **environ,
        "FEWSHOT_RESOURCE_LOG": str(STAGE_LOG.resolve()),
        "FEWSHOT_JOBS": str(jobs),
    }


WORKERS = Path(".dvc/tmp/exps/celery")


def stop_lingering_workers(workers: Path = WORKERS) -> list[int]:
    """Stop the DVC queue workers still up once `dvc exp run --run-all` has returned, and
    return their pids. A worker told to stop on an empty queue while its task still ran can
    stay up for good (DVC 3.67, celery 5.7), holding the stdout of whoever ran the study
    open; `dvc queue stop` does not reach it, SIGTERM (celery's warm shutdown) does."""
    stopped = []
    for record in sorted(workers.glob("dvc-exp-worker-*.json")):
        pid = json.loads(record.read_text()).get("pid")
        try:
            worker = psutil.Process(pid)
            if "queue-worker" in worker.cmdline():  # not another process given its pid
                worker.terminate()
                stopped.append(pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, TypeError, ValueError):
            continue
    return stopped


def check_remote(remote: str) -> None:
    """One clear line, before any experiment runs, when the shared remotes are not usable."""

    def ok(*cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run(cmd, capture_output=True, text=True)

    if ok("git", "remote", "get-url", remote).returncode != 0:
        sys.exit(
            f"error: --remote {remote!r} is not a git remote of this repository "
            f"(`git remote add {remote} <url>` first)"
        )
    reached = ok("git", "ls-remote", "--heads", remote)
    if reached.returncode != 0:
        why = (reached.stderr.strip().splitlines() or ["no answer"])[-1]
        sys.exit(f"error: git remote {remote!r} is not reachable: {why}")
    if ok("dvc", "remote", "default").returncode != 0:  # "No default remote set"
        sys.exit(
            "error: no default DVC remote for the experiments' outputs and run cache "
            "(`dvc remote add -d <name> <url>`, committed in .dvc/config)"
        )


def remote_experiments(remote: str) -> set[str]:
    """The study experiments of HEAD that some machine already pushed to `remote`."""
    out = subprocess.run(
        ["dvc", "exp", "list", remote, "--name-only"], check=True, capture_output=True, text=True
    ).stdout
    return {line.strip() for line in out.splitlines() if parse_name(line.strip())}


def pull_experiments(remote: str) -> None:
    """Every experiment of HEAD that any machine pushed, with its outputs (for collecting)."""
    names = sorted(remote_experiments(remote))
    if names:
        pull = ["dvc", "exp", "pull", "--force", "--no-cache", remote, *names]
        subprocess.run(pull, check=True)  # rows need only the committed metrics
    print(f"pulled {len(names)} experiment(s) of HEAD from {remote}")


def run_points(
    commands: dict[str, list[str]], jobs: int, env: Mapping[str, str], remote: str | None
) -> None:
    """Queue and run the experiments (`commands`: name -> `dvc exp run --queue` command),
    `jobs` at a time. With a remote, a batch of `jobs` is queued, run and pushed before the
    next, so a machine that dies loses only the batch it was running."""
    names = list(commands)
    size = jobs if remote is not None else max(1, len(names))
    for start in range(0, len(names), size):
        batch = names[start : start + size]
        for name in batch:
            subprocess.run(commands[name], check=True)
        run_all = ["dvc", "exp", "run", "--run-all", "--jobs", str(jobs)]
        subprocess.run(run_all, check=True, env=env)
        stop_lingering_workers()
        if remote is not None:
            done = sorted({exp["name"] for exp in exp_show()} & set(batch))
            if done:
                push = ["dvc", "exp", "push", "--run-cache", remote, *done]
                subprocess.run(push, check=True)
