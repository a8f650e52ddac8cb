"""The tools around the pipeline: presets, the study's experiments and rows, their statistics,
the pages and figures that show them, the baseline search, and the pull-request report."""
