"""Benchmarks: ratios measured in one run on one machine."""

from fewshot.threads import configure

configure()  # before any benchmark imports torch: the threads every stage uses
