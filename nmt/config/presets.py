"""Named presets, configuration files, command-line overrides (OmegaConf dot-lists) and the configuration as a dict
or YAML."""

from __future__ import annotations

import dataclasses

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from nmt.config.schema import Config, ConfigError


def _preset(**sections) -> Config:
    return Config().replace(**sections)


PRESETS = {
    # A real model on real data that trains in a few minutes on 2 CPU cores.
    "tiny": _preset(
        data=dict(vocab_size=2000, max_len=48, buckets=(8, 12, 16, 24, 32, 48), batch_tokens=1024),
        model=dict(emb=128, hidden=256, enc_layers=1, dec_layers=1, dropout=0.1),
        train=dict(
            steps=1200, lr=3e-3, warmup_steps=100, eval_every=400, eval_bleu_max=300, log_every=20, final_beam=1
        ),
    ),
    # The default: sized for a 2-core CPU. Its buckets are as fine as the peer's (8% padding instead of 15%, 1.06x
    # the tokens/s, 17 programs to compile instead of 8; experiments/train_levers.py); evaluation and translation
    # batch in 3 shapes (test_2016_flickr with beam 5: 9 s from launch instead of 21; experiments/startup.py).
    # 5,000 steps at lr 3e-3 with a moving average of the parameters, chosen on val BLEU (beam 5: 40.27 against 38.89
    # at 2e-3, 36.64 at 2,500 steps and 35.52 without the average; 36 to 90 minutes on 2 cores; experiments/recipe.py).
    "multi30k": _preset(
        model=dict(emb=256, hidden=256, dropout=0.3),
        data=dict(
            max_len=64,
            buckets=(8, 10, 12, 14, 16, 18, 20, 22, 24, 27, 30, 34, 38, 43, 48, 55, 64),
            eval_buckets=(16, 32, 64),
        ),
        train=dict(steps=5000, lr=3e-3, warmup_steps=400, eval_every=500, patience=4, ema_decay=0.995),
    ),
    # The model every benchmark uses unless it says otherwise (see README).
    "reference": Config(),
    # OpenNMT-py's attention LSTM in ../shared/peers/opennmt-py/rnn.yaml, the model the speed race runs: brnn encoder
    # of 2 x 256 a direction, untied generator with bias, all parameters uniform(-0.1, 0.1), constant Adam 1e-3.
    # Its buckets are finer than the default's: 11% of the target positions are padding instead of 16% (17 shapes
    # instead of 8 to compile; experiments/train_levers.py).
    "opennmt_rnn": _preset(
        data=dict(buckets=(8, 10, 12, 14, 16, 18, 20, 22, 24, 27, 30, 34, 38, 43, 48, 55, 64, 100)),
        model=dict(
            emb=256,
            hidden=512,
            enc_layers=2,
            dec_layers=2,
            encoder="brnn",
            attention="general",
            dropout=0.3,
            tie_output=False,
            init="uniform",
        ),
        train=dict(lr=1e-3, decay="constant", warmup_steps=0, clip_norm=5.0, label_smoothing=0.0),
    ),
    "deep": _preset(model=dict(enc_layers=4, dec_layers=4)),
}
DEFAULT_PRESET = "multi30k"


def _structured(config) -> DictConfig:
    """The config as a writable OmegaConf node: omegaconf < 2.4 marks every frozen dataclass node read-only."""
    node = OmegaConf.structured(config)
    stack = [node]
    while stack:
        n = stack.pop()
        OmegaConf.set_readonly(n, False)
        stack += [n._get_node(k) for k in n if isinstance(n._get_node(k), DictConfig)]
    return node


def _error(e: OmegaConfBaseException, where: str = "") -> ConfigError:
    lines = str(e).splitlines()
    key = next((l.split("full_key:")[1].strip() for l in lines if "full_key:" in l), "")
    return ConfigError(f"{where}{key + ': ' if key else ''}{lines[0]}")


def with_overrides(config: Config, overrides: list[str]) -> Config:
    """Applies `section.field=value` overrides; raises ConfigError naming the bad one."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected section.field=value (e.g. model.hidden=256)")
    try:
        merged = OmegaConf.merge(_structured(config), OmegaConf.from_dotlist(list(overrides)))
        config = OmegaConf.to_object(merged)
    except OmegaConfBaseException as e:
        raise _error(e) from None
    return config.validate()


def with_file(config: Config, path: str) -> Config:
    """`config` with the fields that a YAML file sets: a whole configuration as `python -m nmt.config` prints it, a
    run's `config.json` (JSON is YAML), or any part of one (`train: {steps: 500}`). ConfigError names the file."""
    try:
        loaded = OmegaConf.load(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except (OSError, ValueError) as e:  # the YAML parser's errors are ValueErrors
        raise ConfigError(f"{path}: not a YAML file ({str(e).splitlines()[0]})") from None
    if not isinstance(loaded, DictConfig):
        raise ConfigError(f"{path}: expected sections (data, model, train, parallel), got {type(loaded).__name__}")
    try:
        config = OmegaConf.to_object(OmegaConf.merge(_structured(config), loaded))
    except OmegaConfBaseException as e:
        raise _error(e, f"{path}: ") from None
    return config.validate()


def get_config(preset: str = DEFAULT_PRESET, overrides: list[str] = (), config_file: str | None = None) -> Config:
    """The preset, then the fields `config_file` sets, then the command-line overrides."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    config = PRESETS[preset] if config_file is None else with_file(PRESETS[preset], config_file)
    return with_overrides(config, list(overrides))


def to_dict(config: Config) -> dict:
    return dataclasses.asdict(config)


def from_dict(d: dict) -> Config:
    """Rebuilds a Config saved with `to_dict` (e.g. from a checkpoint's metadata)."""
    return OmegaConf.to_object(OmegaConf.merge(_structured(Config()), OmegaConf.create(d))).validate()


def to_yaml(config: Config) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(config))
