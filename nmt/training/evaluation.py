"""Scoring a model during and after training: validation loss, perplexity and BLEU, greedy and beam search."""

from __future__ import annotations

import logging
import math
import os

from nmt.config import Config
from nmt.data import eval_batches
from nmt.decode import BeamConfig, Translator
from nmt.decode.bleu import bleu
from nmt.training.step import mean_loss
from nmt.utils import write_atomic

logger = logging.getLogger(__name__)


def validate(model, params, split, sp, cfg: Config, max_sentences: int = 0) -> dict:
    """Loss and perplexity over a split, and greedy BLEU over its first `max_sentences` (0 = all); the hypotheses
    under "hyps"."""
    loss = mean_loss(params, model, eval_batches(split.examples, cfg.data.search_buckets(), cfg.data.batch_tokens))
    n = len(split.examples) if not max_sentences else min(max_sentences, len(split.examples))
    greedy = Translator([(model, params)], sp, cfg.data, BeamConfig(beam=1))
    hyps = [h[0].text for h in greedy.search(split.examples.src[:n])]
    return {
        "loss": loss,
        "ppl": math.exp(min(loss, 50)),
        "sentences": n,
        **bleu(hyps, split.ref_text[:n]),
        "hyps": hyps,
    }


def final_evaluation(model, params, data, config: Config, workdir: str | None) -> dict:
    """Val and test scores of `params`, greedy and (train.final_beam > 1) beam search, as published results are
    decoded; the hypotheses of the last search are written to `<workdir>/<split>.hyp` (unless workdir is None)."""
    k = config.train.final_beam
    results = {}
    for name, split in (("val", data.val), ("test", data.test)):
        scores = validate(model, params, split, data.sp, config)
        hyps = scores.pop("hyps")
        line = f"greedy BLEU {scores['bleu']:.2f} cased, {scores['bleu_lc']:.2f} lowercased"
        if k > 1:
            beam = Translator([(model, params)], data.sp, config.data, BeamConfig(beam=k))
            hyps = [h[0].text for h in beam.search(split.examples.src)]
            scores["beam"] = {"beam": k, "alpha": BeamConfig().alpha, **bleu(hyps, split.ref_text)}
            line += f"; beam {k} BLEU {scores['beam']['bleu']:.2f} cased, {scores['beam']['bleu_lc']:.2f} lowercased"
        if workdir is not None:
            write_atomic(os.path.join(workdir, f"{name}.hyp"), "\n".join(hyps) + "\n")
        results[name] = scores
        logger.info(f"{name} ({split.name}): {line}; loss {scores['loss']:.3f}, ppl {scores['ppl']:.2f}")
    logger.info(f"sacrebleu: {results['test']['signature']} | {results['test']['signature_lc']}")
    return results
