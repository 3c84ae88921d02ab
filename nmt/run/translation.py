"""Translating and scoring text with a loaded run: a run's `Translator`, input lines, a split's BLEU and chrF."""

from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np

from nmt.config import ConfigError
from nmt.data import corpus, pipeline
from nmt.decode import BeamConfig, Translator
from nmt.decode.shortlist import Shortlister
from nmt.run.load import LoadedRun
from nmt.utils import listing

logger = logging.getLogger(__name__)


def translator_for(
    runs: LoadedRun | list[LoadedRun],
    cfg: BeamConfig,
    nbest: int = 1,
    shortlister: Shortlister | None = None,
    slots: int | None = None,
    batch_tokens: int | None = None,
    unroll: int | None = None,
) -> Translator:
    """The `Translator` of a loaded run, or of a list of them (`load_runs`): an ensemble, searched as one; the first
    run's data settings (length limit, buckets, and unless `batch_tokens` is given, tokens a fixed batch) apply;
    `unroll` as `Translator` takes it."""
    runs = runs if isinstance(runs, list) else [runs]
    data = runs[0].config.data
    if batch_tokens is not None:
        if batch_tokens < 1:
            raise ConfigError(f"--batch-tokens must be >= 1, got {batch_tokens}")
        data = dataclasses.replace(data, batch_tokens=batch_tokens)
    return Translator([(r.model, r.params) for r in runs], runs[0].sp, data, cfg, nbest, shortlister, slots, unroll)


def read_input(stream, name: str) -> list[str]:
    """Lines of a binary stream to translate; invalid UTF-8 is replaced and reported with its line numbers."""
    lines, bad = corpus.decode_lines(stream, name, invalid_utf8="replace")
    if bad:
        warn_invalid_utf8(name, bad)
    return lines


def warn_invalid_utf8(name: str, numbers: list[int]) -> None:
    logger.warning(f"warning: {name}: invalid UTF-8 replaced on {len(numbers)} lines: {listing(numbers)}")


def evaluate_split(runs, split: str, cfgs: dict, shortlister=None, slots=None, batch_tokens=None, unroll=None):
    """`evaluate_texts` on `split` (a file prefix) of the run's corpus."""
    run = runs[0] if isinstance(runs, list) else runs
    data = run.config.data
    text = corpus.read_parallel(*pipeline.split_paths(data, split), invalid_utf8=data.invalid_utf8)
    logger.info(text.summary(split))
    return evaluate_texts(runs, split, text.src, text.tgt, cfgs, shortlister, slots, batch_tokens, unroll)


def evaluate_texts(
    runs,
    name: str,
    sources: list[str],
    refs: list[str],
    cfgs: dict,
    shortlister=None,
    slots=None,
    batch_tokens=None,
    unroll=None,
) -> tuple[dict, dict[str, list[str]]]:
    """Scores each named search configuration on sources against their references: BLEU, chrF, seconds and mean
    length; and each configuration's hypotheses. runs, shortlister, slots, batch_tokens, unroll: as for
    `translator_for`."""
    import sacrebleu  # here, not at the top: translating alone never scores, and the import costs start-up time

    from nmt.decode.bleu import bleu

    run = runs[0] if isinstance(runs, list) else runs
    out = {"split": name, "sentences": len(sources), "step": run.step, "checkpoint": run.which}
    if shortlister is not None:
        out["shortlist_recall"] = shortlist_recall(shortlister, run.sp, sources, refs, run.config.data.max_len - 1)
    hypotheses = {}
    for key, cfg in cfgs.items():
        start = time.perf_counter()
        translator = translator_for(runs, cfg, 1, shortlister, slots, batch_tokens, unroll)
        hyps = hypotheses[key] = [t.text for t in translator.translate(sources)]
        seconds = time.perf_counter() - start
        chrf = sacrebleu.CHRF()
        out[key] = {
            **bleu(hyps, refs),
            "chrf": chrf.corpus_score(hyps, [refs]).score,
            "chrf_signature": str(chrf.get_signature()),
            "seconds": seconds,
            "mean_len": sum(len(h.split()) for h in hyps) / max(len(hyps), 1),
        }
    return out, hypotheses


def shortlist_recall(lister, sp, src_text: list[str], ref_text: list[str], limit: int) -> float:
    """The share of reference tokens that their sentence's shortlist holds: an upper bound on what it lets through."""
    hit = total = 0
    for src, ref in zip(sp.encode(src_text), sp.encode(ref_text)):
        listed = set(lister.sentence(np.asarray(src[:limit], np.int32)).tolist())
        hit += sum(t in listed for t in ref)
        total += len(ref)
    return hit / max(total, 1)
