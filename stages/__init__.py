"""The pipeline's stages, one script each (`python -m stages.<name>`)."""

from fewshot.threads import configure

configure()  # before a stage imports torch: threads from the CPUs it may use, passive waiting
