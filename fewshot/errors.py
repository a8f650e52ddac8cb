"""Errors a user can act on: printed as one line, without a traceback, by `fewshot.io.run`."""


class FewshotError(Exception):
    """Base class for errors caused by input, not by a bug."""


class ParamError(FewshotError):
    """A value in params.yaml (or passed with `dvc exp run -S`) is not allowed."""


class DataError(FewshotError):
    """A data file is missing, corrupt, or not what the pipeline expects."""


class TrainingError(FewshotError):
    """Training produced something unusable (for example a NaN loss)."""
