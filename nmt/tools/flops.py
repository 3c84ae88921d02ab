"""Analytic matmul FLOPs of the model (XLA's cost analysis counts a loop body once, not once per step)."""

from __future__ import annotations

from nmt.config import ModelConfig
from nmt.model.decoder import encoder_dim


def forward_matmul_flops(cfg: ModelConfig, vocab: int, batch: int, src_len: int, tgt_len: int) -> int:
    """Multiply–add pairs ×2 of every matmul in one forward pass over padded `[batch, len]` shapes."""
    e, h, d_enc = cfg.emb, cfg.hidden, encoder_dim(cfg)
    bs, bt = batch * src_len, batch * tgt_len
    if cfg.encoder == "brnn":  # every layer bidirectional, h/2 a direction
        f = sum(2 * 2 * bs * ((e if layer == 0 else h) + h // 2) * 4 * (h // 2) for layer in range(cfg.enc_layers))
    else:
        f = 2 * 2 * bs * (e + h) * 4 * h  # bidirectional first encoder layer
        for layer in range(1, cfg.enc_layers):
            f += 2 * bs * ((2 * h if layer == 1 else h) + h) * 4 * h
    if cfg.attention != "dot":
        f += 2 * bs * d_enc * h  # keys, once per sentence
    f += 2 * bt * e * 4 * h  # decoder layer-0 embedding projection, all steps at once
    if cfg.decoder == "gnmt":  # layer 0 [h] @ W; the rest [x | context | h] @ W; no combine layer
        f += 2 * bt * h * 4 * h + (cfg.dec_layers - 1) * 2 * bt * (2 * h + d_enc) * 4 * h
    else:
        f += cfg.dec_layers * 2 * bt * 2 * h * 4 * h  # [input | h] @ W per layer and step
        f += 2 * bt * (d_enc + h) * h  # attentional hidden state
    f += 2 * bt * src_len * (h + d_enc)  # scores and context
    if cfg.attention == "bahdanau":
        f += 2 * bt * h * h + 2 * bt * src_len * h
    out_in = h
    if cfg.tie_output and h != cfg.emb:
        f += 2 * bt * h * e
        out_in = e
    f += 2 * bt * out_in * vocab
    return f


def train_step_flops(cfg: ModelConfig, vocab: int, batch: int, src_len: int, tgt_len: int) -> int:
    """Forward + backward (twice the forward: gradients for inputs and for weights)."""
    return 3 * forward_matmul_flops(cfg, vocab, batch, src_len, tgt_len)
