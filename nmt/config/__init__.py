"""Experiment configuration: frozen dataclasses, named presets and command-line overrides.

A configuration is plain data passed as an argument. Overrides use OmegaConf dot-lists
(`model.hidden=256 train.steps=500`), the syntax fairseq and Hydra users know.
"""

from nmt.config.presets import (
    DEFAULT_PRESET,
    PRESETS,
    from_dict,
    get_config,
    to_dict,
    to_yaml,
    with_file,
    with_overrides,
)
from nmt.config.schema import (
    ATTENTIONS,
    DTYPES,
    ENCODERS,
    INITS,
    Config,
    ConfigError,
    DataConfig,
    ModelConfig,
    ParallelConfig,
    TrainConfig,
    parse_bytes,
)
