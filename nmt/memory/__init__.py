"""Memory: rematerialisation/offload policies by name, and what a policy keeps for the backward pass."""
from nmt.memory.policies import TENSOR_NAMES, checkpointed, resolve
from nmt.memory.residuals import saved_residuals
