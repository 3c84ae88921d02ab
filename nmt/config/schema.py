"""The configuration's sections as frozen dataclasses, each field with its default and its check."""

from __future__ import annotations

import dataclasses
import re

ATTENTIONS = ("general", "dot", "bahdanau")
ENCODERS = ("gnmt", "brnn")
INITS = ("default", "uniform")
MOMENTUM_RULES = ("fixed", "inverse_k", "inverse_sqrt_k", "slowmo")  # parallel.momentum_rule
DTYPES = ("float32", "bfloat16", "float64")  # float64 needs jax_enable_x64 (gradient checks)


class ConfigError(ValueError):
    """A user mistake in the configuration or in a command's options; reported as one line, never a traceback."""


_UNITS = {"": 1, "B": 1, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "KB": 10**3, "MB": 10**6, "GB": 10**9}


def parse_bytes(text: str) -> int:
    """`16GiB`, `512MiB`, `1e9` -> bytes (model.memory_budget)."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", text or "")
    if not m or m.group(2).upper() not in _UNITS:
        raise ConfigError(f"model.memory_budget: expected a size such as 16GiB or 512MiB, got {text!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


@dataclasses.dataclass(frozen=True)
class DataConfig:
    corpus: str = "multi30k"  # "multi30k" or "files" (then train/val/test_prefix are read)
    src_lang: str = "en"
    tgt_lang: str = "de"
    dir: str | None = None  # searched first; then $NMT_DATA_DIR, then the user cache
    train_prefix: str = "train"  # files: <dir>/<prefix>.<lang>[.gz]
    val_prefix: str = "val"
    test_prefix: str = "test_2016_flickr"
    vocab_size: int = 8000
    max_len: int = 100  # subword tokens per side, eos included; longer training pairs are dropped
    invalid_utf8: str = "error"  # "error" or "replace" (replaced and counted)
    buckets: tuple = (8, 12, 16, 20, 24, 32, 48, 64, 100)
    batch_tokens: int = 2048  # target tokens per batch, padding included
    # a bucket's left-over pairs join the next bucket up instead of a part-empty batch (BatchIterator)
    full_batches: bool = True
    # > 0: sources and targets bucketed apart, in that many (source, target) shapes beyond the square ones, the most
    # frequent first (one more program each; BatchIterator, experiments/padding.py)
    pair_shapes: int = 0
    # > 0: subword regularisation, a segmentation of the training pairs sampled anew each epoch with this smoothing
    # (sentencepiece's alpha, e.g. 0.1) from the spm_nbest best (-1: all); nmt.data.sampling
    spm_alpha: float = 0.0
    spm_nbest: int = -1
    # the buckets of evaluation and translation (the val/test loss and every search): fewer than training's, so that
    # fewer programs compile where the step runs a few times only; () = the training buckets
    eval_buckets: tuple = ()

    def search_buckets(self) -> tuple:
        return tuple(self.eval_buckets or self.buckets)

    def validate(self):
        if self.corpus not in ("multi30k", "files"):
            raise ConfigError(f"data.corpus: expected 'multi30k' or 'files', got {self.corpus!r}")
        if self.invalid_utf8 not in ("error", "replace"):
            raise ConfigError(f"data.invalid_utf8: expected 'error' or 'replace', got {self.invalid_utf8!r}")
        if not 0.0 <= self.spm_alpha <= 1.0 or self.spm_nbest == 0 or self.spm_nbest < -1:
            raise ConfigError(
                f"data.spm_alpha must be in [0, 1] and data.spm_nbest -1 or >= 1, got "
                f"{self.spm_alpha} and {self.spm_nbest}"
            )
        if self.pair_shapes < 0:
            raise ConfigError(f"data.pair_shapes must be >= 0, got {self.pair_shapes}")
        for name in ("buckets", "eval_buckets") if self.eval_buckets else ("buckets",):
            edges = getattr(self, name)
            if list(edges) != sorted(set(edges)) or min(edges) < 2:
                raise ConfigError(f"data.{name}: expected increasing lengths >= 2, got {list(edges)}")
            if self.max_len > max(edges):
                raise ConfigError(f"data.max_len={self.max_len} exceeds the largest of data.{name}, {max(edges)}")
            if self.batch_tokens < max(edges):
                raise ConfigError(f"data.batch_tokens={self.batch_tokens} is smaller than the largest of data.{name}")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    emb: int = 256
    hidden: int = 512
    enc_layers: int = 2
    # gnmt: the first layer bidirectional with `hidden` a direction, the rest forward, residual from the third up;
    # brnn: every layer bidirectional with hidden/2 a direction (OpenNMT-py's brnn)
    encoder: str = "gnmt"
    dec_layers: int = 2
    # luong: input feeding, attention over the top layer's output (Luong et al. 2015); gnmt: GNMT v2, attention over
    # the first layer's output, nothing fed back, so the upper layers run over the whole sequence at once
    decoder: str = "luong"
    attention: str = "general"  # general | dot | bahdanau
    attention_impl: str = "autodiff"  # autodiff | recompute (custom VJP: no stored scores, recomputed backward)
    dropout: float = 0.3
    word_dropout: float = 0.0  # whole source and target words dropped (their embedding zeroed), Sennrich et al. 2016
    tie_output: bool = True  # output projection shares the target embedding
    share_embeddings: bool = False  # source and target embeddings one matrix (the vocabulary is joint)
    dtype: str = "float32"  # compute dtype; parameters stay float32
    init: str = "default"  # default: normal(0.1) embeddings, forget bias 1; uniform: all uniform(-0.1, 0.1) (OpenNMT)
    unroll: int = 1  # time steps per loop iteration of every recurrent scan (lax.scan's unroll)
    fuse_directions: bool = False  # both directions of a bidirectional layer in one scan (a batched product a step)
    encoder_impl: str = "scan"  # scan | cudnn: each encoder layer one call of cuDNN's LSTM (GPU; float32 inside)
    # memory policy per scan step, checked against nmt.model.policies when a model is built: none | full | dots |
    # save:<names> | offload:<names> | ... | auto
    remat: str = "none"
    memory_budget: str = ""  # with remat=auto: e.g. 16GiB
    # compressed forms, written by nmt.compress (nmt.model.matrices): `name:rank` entries of matrices kept as two
    # low-rank factors, and int8 storage (a float scale per output channel) of every other one of COMPRESSIBLE
    low_rank: tuple = ()
    int8: bool = False

    def compressible(self) -> tuple:
        """The matrices a compressed form applies to: the decoder's, its embedding and its output layer."""
        return (
            "tgt_embed",
            "dec_w_emb",
            *(f"dec_l{l}_w" for l in range(self.dec_layers)),
            "w_combine",
            "w_pre",
            "w_out",
        )

    def ranks(self) -> dict:
        """`low_rank` as {name: rank}."""
        ranks = {}
        for entry in self.low_rank:
            m = re.fullmatch(r"\s*([a-z0-9_]+)\s*:\s*([0-9]+)\s*", str(entry))
            if not m or int(m.group(2)) < 1 or m.group(1) not in self.compressible():
                raise ConfigError(
                    f"model.low_rank: expected name:rank entries (rank >= 1) naming one of "
                    f"{', '.join(self.compressible())}; got {entry!r}"
                )
            ranks[m.group(1)] = int(m.group(2))
        return ranks

    def validate(self):
        if (self.ranks() or self.int8) and self.decoder != "luong":
            raise ConfigError("model.low_rank and model.int8 take the luong decoder")
        if self.remat == "auto":
            parse_bytes(self.memory_budget)
        elif self.memory_budget:
            raise ConfigError(
                f"model.memory_budget={self.memory_budget} is read only with model.remat=auto "
                f"(model.remat is {self.remat!r}): set both, or neither"
            )
        if self.attention not in ATTENTIONS:
            raise ConfigError(f"model.attention: expected one of {ATTENTIONS}, got {self.attention!r}")
        if self.encoder not in ENCODERS or (self.encoder == "brnn" and self.hidden % 2):
            raise ConfigError(
                f"model.encoder: expected one of {ENCODERS} (brnn with an even model.hidden), "
                f"got {self.encoder!r} with hidden {self.hidden}"
            )
        if self.init not in INITS or self.unroll < 1:
            raise ConfigError(
                f"model.init: expected one of {INITS}, and model.unroll >= 1; got {self.init!r}, {self.unroll}"
            )
        if self.decoder not in ("luong", "gnmt") or (self.decoder == "gnmt" and self.dec_layers < 2):
            raise ConfigError(
                f"model.decoder: expected luong, or gnmt with model.dec_layers >= 2; got "
                f"{self.decoder!r} with {self.dec_layers} layers"
            )
        if self.encoder_impl not in ("scan", "cudnn"):
            raise ConfigError(f"model.encoder_impl: expected scan or cudnn, got {self.encoder_impl!r}")
        if self.attention_impl not in ("autodiff", "recompute"):
            raise ConfigError(f"model.attention_impl: expected autodiff or recompute, got {self.attention_impl!r}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"model.dtype: expected one of {DTYPES}, got {self.dtype!r}")
        if min(self.emb, self.hidden, self.enc_layers, self.dec_layers) < 1:
            raise ConfigError("model.emb, model.hidden, model.enc_layers and model.dec_layers must be >= 1")
        if self.attention == "dot" and self.enc_layers < 2 and self.encoder == "gnmt":
            raise ConfigError("model.attention=dot needs model.enc_layers >= 2 (encoder and decoder widths must match)")
        if not (0.0 <= self.dropout < 1.0 and 0.0 <= self.word_dropout < 1.0):
            raise ConfigError(
                f"model.dropout and model.word_dropout: expected 0 <= p < 1, got {self.dropout}, {self.word_dropout}"
            )


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    steps: int = 20000
    lr: float = 1e-3
    warmup_steps: int = 500
    decay: str = "rsqrt"  # rsqrt | cosine | constant (after warm-up)
    optimizer: str = "adam"  # adam | sgd
    momentum: float = 0.0  # sgd: heavy-ball momentum (fairseq's --momentum); 0 = plain SGD
    clip_norm: float = 5.0  # global-norm clipping; 0 = none
    flat_update: bool = False  # the optimizer over all parameters flattened into one vector (optax.flatten)
    label_smoothing: float = 0.1
    eval_every: int = 1000
    eval_bleu_max: int = 0  # val sentences decoded for BLEU during training; 0 = all
    log_every: int = 50
    seed: int = 0
    patience: int = 0  # stop after this many evaluations without a better val BLEU; 0 = never
    final_beam: int = 5  # beam size (alpha 0.6) of the final val/test BLEU, beside greedy; 1 = greedy only
    keep_evaluated: int = 0  # parameters of the last N evaluations kept in checkpoints/evaluated/ (0 = none)
    # > 0: the final evaluation scores the average of the last N evaluated parameters (needs keep_evaluated >= N)
    final_average: int = 0
    # > 0: evaluate, keep and release an exponential moving average of the parameters (Marian's exponential
    # smoothing; e.g. 0.999) instead of the parameters themselves
    ema_decay: float = 0.0
    save_every_s: int = 600  # the latest state is also saved when this many seconds passed since the last save
    # a step whose loss or gradient is not finite changes nothing (optax.apply_if_finite) and is counted; this many
    # in a row stop the run; 0 = no guard (every update is applied)
    nonfinite_limit: int = 5

    def validate(self):
        if self.optimizer not in ("adam", "sgd"):
            raise ConfigError(f"train.optimizer: expected adam or sgd, got {self.optimizer!r}")
        if not 0.0 <= self.momentum < 1.0 or (self.momentum and self.optimizer != "sgd"):
            raise ConfigError(
                f"train.momentum: expected 0 <= m < 1, and only with train.optimizer=sgd; "
                f"got {self.momentum} with {self.optimizer}"
            )
        if self.decay not in ("rsqrt", "cosine", "constant"):
            raise ConfigError(f"train.decay: expected rsqrt, cosine or constant, got {self.decay!r}")
        if self.steps < 1 or self.eval_every < 1 or self.log_every < 1:
            raise ConfigError("train.steps, train.eval_every and train.log_every must be >= 1")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"train.ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.final_average > self.keep_evaluated:
            raise ConfigError(
                f"train.final_average={self.final_average} needs train.keep_evaluated >= "
                f"{self.final_average} (the evaluated parameters it averages)"
            )
        if min(self.keep_evaluated, self.save_every_s, self.nonfinite_limit) < 0:
            raise ConfigError("train.keep_evaluated, train.save_every_s and train.nonfinite_limit must be >= 0")
        if self.final_beam < 1:
            raise ConfigError(f"train.final_beam: expected a beam size >= 1, got {self.final_beam}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(f"train.label_smoothing: expected 0 <= eps < 1, got {self.label_smoothing}")


@dataclasses.dataclass(frozen=True)
class ParallelConfig:
    """Several workers (devices, on one or many hosts); the BMUF options are fairseq's, with η and Nesterov set for
    Adam workers (docs/parallel.md)."""

    method: str = "none"  # none | sync (gradients averaged every step) | average (models every τ steps) | bmuf
    workers: int = 0  # 0 = every device of every process
    devices: int = 0  # devices the workers share (0 = one each); workers must be a multiple of it
    sync_every: int = 50  # τ: local steps per block (average, bmuf); fairseq's global_sync_iter
    block_lr: float = 1.0
    block_momentum: float = 0.25  # η, or by K with momentum_rule; why 0.25: docs/parallel.md
    # fixed (block_momentum) | inverse_k (1 − 1/K, Chen & Huo) | inverse_sqrt_k (1 − 1/√K) | slowmo (fairseq's table)
    momentum_rule: str = "fixed"
    nesterov: bool = True  # workers start each block from the look-ahead point (fairseq's use_nbm)
    warmup_steps: int = 500  # every-step gradient averaging before the first block (fairseq's warmup_iterations)
    average_opt_state: bool = False  # also average Adam's moments at each block (fairseq's average_sync)
    reset_opt_state: bool = False  # restart Adam's moments (and their step count) at each block instead
    lr_rule: str = "sqrt"  # local lr × sqrt(K) | linear (× K) | none; see nmt/parallel/algorithms.py
    plateau_decay: float = 0.5  # lr × this when the val loss does not improve at an evaluation (1 = never)

    def validate(self):
        if self.method not in ("none", "sync", "average", "bmuf"):
            raise ConfigError(f"parallel.method: expected none, sync, average or bmuf, got {self.method!r}")
        if self.lr_rule not in ("sqrt", "linear", "none"):
            raise ConfigError(f"parallel.lr_rule: expected sqrt, linear or none, got {self.lr_rule!r}")
        if self.momentum_rule not in MOMENTUM_RULES:
            raise ConfigError(f"parallel.momentum_rule: expected one of {MOMENTUM_RULES}, got {self.momentum_rule!r}")
        if self.average_opt_state and self.reset_opt_state:
            raise ConfigError("parallel.average_opt_state and parallel.reset_opt_state: choose one")
        if self.sync_every < 1 or self.workers < 0 or self.devices < 0 or self.warmup_steps < 0:
            raise ConfigError("parallel.sync_every must be >= 1; parallel.workers, devices and warmup_steps >= 0")
        if self.devices and self.workers % self.devices:
            raise ConfigError(f"parallel.workers={self.workers} is not a multiple of parallel.devices={self.devices}")
        if not 0.0 <= self.block_momentum < 1.0 or not 0.0 < self.plateau_decay <= 1.0:
            raise ConfigError("parallel.block_momentum must be in [0, 1) and parallel.plateau_decay in (0, 1]")


@dataclasses.dataclass(frozen=True)
class Config:
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    parallel: ParallelConfig = ParallelConfig()

    def validate(self) -> Config:
        self.data.validate()
        self.model.validate()
        self.train.validate()
        self.parallel.validate()
        if self.train.ema_decay > 0 and self.parallel.method != "none":
            raise ConfigError(
                "train.ema_decay works with parallel.method=none only (average and bmuf keep a global "
                "model of their own)"
            )
        return self

    def replace(self, **sections: dict) -> Config:
        """A validated copy with some fields of some sections changed: `config.replace(model={"remat": "full"})`."""
        return dataclasses.replace(
            self, **{k: dataclasses.replace(getattr(self, k), **v) for k, v in sections.items()}
        ).validate()
