"""Slices of a grid for several machines: machine K of N runs every N-th point."""

from __future__ import annotations

import argparse
from typing import TypeVar

Point = TypeVar("Point")


def parse_shard(text: str) -> tuple[int, int]:
    """`K/N` (1 <= K <= N): the K-th of N slices of the grid."""
    k, _, n = text.partition("/")
    try:
        shard = int(k), int(n)
    except ValueError:
        shard = (0, 0)
    if not 1 <= shard[0] <= shard[1]:
        raise argparse.ArgumentTypeError(f"{text!r}: expected K/N with 1 <= K <= N, e.g. 2/3")
    return shard


def shard_points(points: list[Point], shard: tuple[int, int] | None) -> list[Point]:
    """The shard's points: every N-th point of the sorted grid from the K-th, so each point
    falls in exactly one shard, whichever machine computes it."""
    if shard is None:
        return points
    k, n = shard
    return [p for i, p in enumerate(sorted(points)) if i % n == k - 1]
