"""Where the networks run and in what arithmetic: the device, bf16 autocast, and the
machine string every result records.
"""

from __future__ import annotations

import os

import torch

from fewshot.errors import ParamError


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA when present; asking for `cuda` without one is an error."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ParamError("params.yaml: 'device' = 'cuda' but no CUDA device is available")
    return torch.device(name)


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX512-BF16 or AMX); else bf16 is emulated."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def resolve_precision(precision: str, device: torch.device) -> str:
    """`auto` is bf16 on a CPU with native bf16, where the recipe's CGAN trains 1.5x faster and
    as well (docs/results.md, three subsets), and fp32 elsewhere: GPUs run the CGAN launch-bound
    (autocast would only add cast kernels) and other CPUs emulate bf16. fp32 and bf16 as given."""
    if precision != "auto":
        return precision
    return "bf16" if device.type == "cpu" and cpu_has_bf16() else "fp32"


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """bf16 autocast when `precision` resolves to bf16 (weights and optimiser state stay fp32)."""
    bf16 = resolve_precision(precision, device) == "bf16"
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)


def _cpu_summary() -> str:
    """CPU model and the widest vector instructions it has, e.g. 'AMD EPYC (avx2)'."""
    import platform
    from pathlib import Path

    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    isa = next(
        (f for f in ("amx_bf16", "avx512_bf16", "avx512f", "avx2", "neon") if f in flags), "?"
    )
    return f"{model} ({isa}, {os.cpu_count()} cores)"


def machine_summary() -> str:
    """Where a number was measured: the device, the CPU and its instruction set, torch."""
    device = f"{torch.cuda.get_device_name()} (CUDA)" if torch.cuda.is_available() else "CPU"
    return f"{device}, {_cpu_summary()}, torch {torch.__version__}"
