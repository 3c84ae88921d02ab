"""Low-rank factors (truncated SVD) and int8 weights of a trained model's matrices, in the forms the model declares
under `model.low_rank` and `model.int8` (nmt.model.matrices).

The matrices are the decoder's (its embedding projection, LSTM layers, combine layer), the target embedding (the
output layer when tied) and the output layer: what a decoding step reads. The encoder runs once a sentence and stays
as it is.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from nmt.config import ConfigError, ModelConfig


def located(params: dict, name: str) -> tuple[dict, str]:
    """(the dict that holds matrix `name`, its key there): the embedding lives in its own module."""
    return (params["tgt_embed"], "embedding") if name == "tgt_embed" else (params, name)


def present(params: dict, cfg: ModelConfig) -> list[str]:
    """The compressible matrices this model has, in full form."""
    return [n for n in cfg.compressible() if located(params, n)[1] in located(params, n)[0]]


def copied(params: dict) -> dict:
    """A copy of the parameters whose modules' dicts can be changed without touching the original's."""
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in params.items()}


def energy_rank(s: np.ndarray, energy: float) -> int:
    """The smallest rank whose singular values keep `energy` of the squared sum."""
    kept = np.cumsum(np.square(s.astype(np.float64))) / np.square(s.astype(np.float64)).sum()
    return int(min(len(s), np.searchsorted(kept, energy - 1e-12) + 1))


def svd_factors(w: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """The best rank-`rank` approximation of w [n, m] as u [n, r] @ v [r, m], the singular values split evenly."""
    u, s, vt = np.linalg.svd(np.asarray(w, np.float64), full_matrices=False)
    root = np.sqrt(s[:rank])
    return (u[:, :rank] * root).astype(np.float32), (root[:, None] * vt[:rank]).astype(np.float32)


def factor(params: dict, cfg: ModelConfig, names: list[str], rank: int = 0, energy: float = 0.0):
    """The parameters and configuration with each matrix of `names` (or ["all"]) factored at `rank`, or at the
    smallest rank that keeps `energy` (0 < energy <= 1) of it, a matrix being left whole where that rank would not
    save parameters. Returns (params, cfg, {name: rank})."""
    if (rank > 0) == (energy > 0) or not 0 <= energy <= 1:
        raise ConfigError(f"give either --rank R >= 1 or --energy E in (0, 1], got --rank {rank}, --energy {energy}")
    full = present(params, cfg)
    names = full if list(names) == ["all"] else names
    unknown = [n for n in names if n not in full]
    if unknown:
        raise ConfigError(f"--factor {','.join(unknown)}: not a full matrix of this model (it has {', '.join(full)})")
    p = copied(params)
    ranks = dict(cfg.ranks())
    for name in names:
        holder, key = located(p, name)
        w = np.asarray(holder[key], np.float32)
        n, m = w.shape
        r = rank
        if energy:
            r = energy_rank(np.linalg.svd(w.astype(np.float64), compute_uv=False), energy)
            if r * (n + m) >= n * m:
                continue
        elif r > min(n, m):
            raise ConfigError(f"--rank {r}: larger than {name}, a {n} x {m} matrix")
        holder[f"{key}_u"], holder[f"{key}_v"] = svd_factors(w, r)
        del holder[key]
        ranks[name] = r
    cfg = dataclasses.replace(cfg, low_rank=tuple(f"{n}:{r}" for n, r in ranks.items())) if ranks else cfg
    return p, cfg, {n: ranks[n] for n in names if n in ranks}


def quantise(w: np.ndarray, rowwise: bool) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 with one float32 scale per row (`rowwise`) or per column: (q, scale), w ~ q * scale."""
    w = np.asarray(w, np.float32)
    scale = np.abs(w).max(1 if rowwise else 0) / 127.0
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    q = np.round(w / (scale[:, None] if rowwise else scale)).clip(-127, 127).astype(np.int8)
    return q, scale


def to_int8(params: dict, cfg: ModelConfig):
    """The parameters and configuration with every compressible matrix not factored stored as int8."""
    p = copied(params)
    for name in present(p, cfg):
        holder, key = located(p, name)
        holder[f"{key}_q"], holder[f"{key}_scale"] = quantise(holder.pop(key), rowwise=name == "tgt_embed")
    return p, dataclasses.replace(cfg, int8=True)
