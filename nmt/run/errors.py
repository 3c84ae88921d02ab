"""The error of a run directory that cannot be read or written as asked."""


class RunError(ValueError):
    """Not a run directory, a checkpoint or lexicon that does not fit it, an output folder that exists; reported as
    one line, never a traceback."""
