"""The tools around the pipeline: presets, the study's experiments and rows, their statistics,
the pages and figures that show them, the baseline search, and the pull-request report."""

from fewshot.threads import configure

configure()  # before a tool imports torch: the threads every stage uses
