"""A run's checkpoints on disk (Orbax): the latest and best training states, the parameters of recent evaluations,
their averages. Below training and the run directory alike: training writes them, translation only reads them."""

from nmt.checkpoints.averaging import average_evaluated, evaluated_steps, mean_tree
from nmt.checkpoints.errors import CheckpointError
from nmt.checkpoints.store import Checkpoints
