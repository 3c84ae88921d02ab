"""A run directory, as `nmt.train` or `nmt.release` writes it: loading it, releasing it, its lexicon, and translating
and scoring text with it."""

from nmt.run.errors import RunError
from nmt.run.load import LoadedRun, load_run, load_runs
