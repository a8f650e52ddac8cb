"""The machine a number was measured on: the string fewshot/device.py's `machine_summary`
records ("CPU, AMD EPYC (avx512_bf16, 2 cores), torch 2.14.1", "NVIDIA H100 80GB HBM3 (CUDA),
..."), parsed here and nowhere else."""

from __future__ import annotations

from dataclasses import dataclass

GPUS = ("H100", "H200")  # the accelerators rows were measured on, by the name they show
ISAS = ("amx", "avx512", "avx2")  # the CPU kinds, widest first


@dataclass(frozen=True)
class Machine:
    text: str  # as recorded
    gpu: str | None  # "H100", "H200"; None on a CPU or an unnamed GPU
    cuda: bool
    isa: str | None  # "amx", "avx512" or "avx2": the widest vector instructions of the CPU
    bf16: bool  # native bf16 arithmetic: a GPU, or a CPU with AVX512-BF16 or AMX

    @property
    def short_name(self) -> str:
        """ "H100", "AMX CPU", "AVX512 CPU", "AVX2 CPU", or the string itself."""
        if self.gpu:
            return self.gpu
        names = {"amx": "AMX CPU", "avx512": "AVX512 CPU", "avx2": "AVX2 CPU"}
        return names.get(self.isa, self.text)


def parse_machine(text: str) -> Machine:
    return Machine(
        text=text,
        gpu=next((gpu for gpu in GPUS if gpu in text), None),
        cuda="CUDA" in text,
        isa=next((isa for isa in ISAS if isa in text), None),
        bf16="bf16" in text or "CUDA" in text,
    )


def machine_name(machine: str | None) -> str:
    """A short name for a recorded machine string: its accelerator or CPU kind."""
    return parse_machine(machine).short_name if machine else "an unrecorded machine"


def has_bf16(machine: str | None) -> bool:
    """Whether the recorded machine multiplies bf16 natively (what `precision: auto` picks)."""
    return bool(machine) and parse_machine(machine).bf16
