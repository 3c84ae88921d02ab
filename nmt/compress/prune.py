"""Structured pruning: whole hidden units removed, with their rows and columns across the four gates and every matrix
that reads them, so the matrices get smaller rather than sparse and the result is an ordinary model of `hidden`
units that every command reads.

Each layer keeps its own units, the same number in every layer (the configuration has one `hidden`): the encoder's
two first-layer directions, its forward layers (one set for all of them, as the residual connections from the third
layer up add them unit to unit), the decoder's first layer, its upper layers (one set, for the same reason), the
attention's hidden units (Bahdanau) and the attentional hidden state that input feeding and the output layer read.
A unit's importance is the norm of every weight that writes it and every weight that reads it (magnitude pruning).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from nmt.config import ConfigError, ModelConfig


def gate_columns(units: np.ndarray, hidden: int) -> np.ndarray:
    """The columns of a [*, 4H] gate matrix (i, f, g, o blocks) that belong to `units`."""
    return np.concatenate([units + g * hidden for g in range(4)])


def _keep(score: np.ndarray, n: int) -> np.ndarray:
    return np.sort(np.argsort(-score, kind="stable")[:n])


def _norm(w: np.ndarray, axis: int) -> np.ndarray:
    return np.sqrt(np.square(np.asarray(w, np.float64)).sum(axis))


def _gates_norm(w: np.ndarray, hidden: int) -> np.ndarray:
    """Per unit, the norm of its four gate columns."""
    return np.sqrt(sum(np.square(_norm(w[:, g * hidden : (g + 1) * hidden], 0)) for g in range(4)))


def _check(cfg: ModelConfig, hidden: int) -> None:
    if cfg.encoder != "gnmt" or cfg.decoder != "luong" or cfg.attention == "dot":
        raise ConfigError(
            f"pruning handles the gnmt encoder, the luong decoder and general or bahdanau attention; "
            f"this model has model.encoder={cfg.encoder}, model.decoder={cfg.decoder}, "
            f"model.attention={cfg.attention}"
        )
    if not 0 < hidden <= cfg.hidden:
        raise ConfigError(f"--prune-hidden {hidden}: expected 1 to the model's {cfg.hidden} units")


def choose_units(p: dict, cfg: ModelConfig, hidden: int) -> dict[str, np.ndarray]:
    """The units each layer keeps, by magnitude (sorted, so the kept units stay in their order)."""
    _check(cfg, hidden)
    h, enc, one = cfg.hidden, p["encoder"], cfg.enc_layers == 1
    le, ld = cfg.enc_layers, cfg.dec_layers
    reads_enc = [p["attn_w_k"], p["w_combine"][: (2 * h if one else h)]]  # rows that read the encoder's output
    units = {}
    for k, d in enumerate(("fwd", "bwd")):
        w = enc[f"l0_{d}"]
        score = _gates_norm(w["w_x"], h) + _gates_norm(w["w_h"], h) + _norm(w["w_h"], 1)
        if one:
            score += sum(_norm(r[k * h : (k + 1) * h], 1) for r in reads_enc)
        else:
            score += _norm(enc["l1"]["w_x"][k * h : (k + 1) * h], 1)
        units[f"enc_l0_{d}"] = _keep(score, hidden)
    if not one:
        score = sum(_gates_norm(enc[f"l{l}"]["w_x"], h) + _gates_norm(enc[f"l{l}"]["w_h"], h) for l in range(1, le))
        units["enc_upper"] = _keep(score + sum(_norm(r, 1) for r in reads_enc), hidden)
    top_reads = [p["w_combine"][-h:]] + ([p["attn_w_k"].T] if cfg.attention == "general" else [p["attn_w_q"]])
    for name, layers in (("dec_l0", [0]), ("dec_upper", list(range(1, ld)))):
        if not layers:
            continue
        score = sum(_gates_norm(p[f"dec_l{l}_w"], h) + _norm(p[f"dec_l{l}_w"][h:], 1) for l in layers)
        score = score + (_gates_norm(p["dec_w_emb"], h) if name == "dec_l0" else 0)
        if name == "dec_l0" and ld > 1:
            score = score + _norm(p["dec_l1_w"][:h], 1)
        if layers[-1] == ld - 1:
            score = score + sum(_norm(r, 1) for r in top_reads)
        units[name] = _keep(score, hidden)
    if cfg.attention == "bahdanau":
        units["attn"] = _keep(_norm(p["attn_w_k"], 0) + _norm(p["attn_w_q"], 0) + np.abs(p["attn_v"]), hidden)
    out = p["w_pre"] if "w_pre" in p else p.get("w_out")
    score = _norm(p["w_combine"], 0) + _norm(p["dec_l0_w"][:h], 1)
    units["feed"] = _keep(score + (_norm(out, 1) if out is not None else 0), hidden)
    return units


def prune(params: dict, cfg: ModelConfig, hidden: int, units: dict | None = None) -> tuple[dict, ModelConfig]:
    """The parameters and configuration of the model with `hidden` units a layer, keeping `units` (default:
    `choose_units`, by magnitude). Keeping every unit, in any order, computes exactly what the model computed."""
    p = {k: (dict(v) if isinstance(v, dict) else np.asarray(v)) for k, v in params.items()}
    units = units or choose_units(p, cfg, hidden)
    h, le, ld = cfg.hidden, cfg.enc_layers, cfg.dec_layers
    enc = {k: dict(v) for k, v in p["encoder"].items()}
    g = lambda u: gate_columns(u, h)

    def lstm(w: dict, rows: np.ndarray, u: np.ndarray) -> dict:
        return {
            "w_x": np.asarray(w["w_x"])[rows][:, g(u)],
            "w_h": np.asarray(w["w_h"])[u][:, g(u)],
            "b": np.asarray(w["b"])[g(u)],
        }

    fwd, bwd = units["enc_l0_fwd"], units["enc_l0_bwd"]
    everything = np.arange(cfg.emb)
    enc["l0_fwd"], enc["l0_bwd"] = lstm(enc["l0_fwd"], everything, fwd), lstm(enc["l0_bwd"], everything, bwd)
    enc_out = np.concatenate([fwd, h + bwd])
    if le > 1:
        upper = units["enc_upper"]
        for l in range(1, le):
            enc[f"l{l}"] = lstm(enc[f"l{l}"], enc_out if l == 1 else upper, upper)
        enc_out = upper
    d_enc = 2 * h if le == 1 else h
    feed, d0 = units["feed"], units["dec_l0"]
    top = units["dec_upper"] if ld > 1 else d0
    p["encoder"] = enc
    p["dec_w_emb"] = p["dec_w_emb"][:, g(d0)]
    below = feed
    for l in range(ld):
        u = d0 if l == 0 else units["dec_upper"]
        p[f"dec_l{l}_w"] = p[f"dec_l{l}_w"][np.concatenate([below, h + u])][:, g(u)]
        p[f"dec_l{l}_b"] = p[f"dec_l{l}_b"][g(u)]
        below = u
    if cfg.attention == "general":
        p["attn_w_k"] = p["attn_w_k"][enc_out][:, top]
    else:
        a = units["attn"]
        p["attn_w_k"], p["attn_w_q"], p["attn_v"] = (
            p["attn_w_k"][enc_out][:, a],
            p["attn_w_q"][top][:, a],
            p["attn_v"][a],
        )
    p["w_combine"] = p["w_combine"][np.concatenate([enc_out, d_enc + top])][:, feed]
    if cfg.tie_output:
        # the output layer reads the attentional state through w_pre [H, E], absent when H == E (the identity)
        w_pre = p.pop("w_pre", None)
        w_pre = np.eye(h, dtype=np.float32) if w_pre is None else w_pre
        if hidden != cfg.emb:
            p["w_pre"] = w_pre[feed]
        elif not np.array_equal(w_pre[feed], np.eye(hidden)):
            raise ConfigError(
                f"--prune-hidden {hidden} equals model.emb, where the model has no output projection to "
                "keep the chosen units in: choose another size"
            )
    else:
        p["w_out"] = p["w_out"][feed]
    return p, dataclasses.replace(cfg, hidden=hidden)
