"""Translating and scoring text with a loaded run: a run's `Translator`, input lines, a split's BLEU and chrF."""

from __future__ import annotations

import logging
import time

import numpy as np

from nmt.data import corpus, pipeline
from nmt.decode import BeamConfig, Translator
from nmt.decode.shortlist import Shortlister
from nmt.run.load import LoadedRun

logger = logging.getLogger(__name__)


def _listing(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers[:20])) + (" ..." if len(numbers) > 20 else "")


def translator_for(
    runs: LoadedRun | list[LoadedRun],
    cfg: BeamConfig,
    nbest: int = 1,
    shortlister: Shortlister | None = None,
    slots: int | None = None,
) -> Translator:
    """The `Translator` of a loaded run, or of a list of them (`load_runs`): an ensemble, searched as one; the first
    run's data settings (length limit, buckets) apply."""
    runs = runs if isinstance(runs, list) else [runs]
    return Translator(
        [(r.model, r.params) for r in runs], runs[0].sp, runs[0].config.data, cfg, nbest, shortlister, slots
    )


def read_input(stream, name: str) -> list[str]:
    """Lines of a binary stream to translate; invalid UTF-8 is replaced and reported with its line numbers."""
    lines, bad = corpus.decode_lines(stream, name, invalid_utf8="replace")
    if bad:
        logger.warning(f"warning: {name}: invalid UTF-8 replaced on {len(bad)} lines: {_listing(bad)}")
    return lines


def evaluate_split(runs, split: str, cfgs: dict, shortlister=None, slots: int | None = None) -> dict:
    """Scores each named search configuration on `split` (a file prefix) of the run's corpus: BLEU, chrF, seconds
    and mean length. runs, shortlister, slots: as for `translator_for`."""
    import sacrebleu  # here, not at the top: translating alone never scores, and the import costs start-up time

    from nmt.decode.bleu import bleu

    run = runs[0] if isinstance(runs, list) else runs
    text = corpus.read_parallel(
        *pipeline.split_paths(run.config.data, split), invalid_utf8=run.config.data.invalid_utf8
    )
    logger.info(text.summary(split))
    out = {"split": split, "sentences": len(text.src), "step": run.step, "checkpoint": run.which}
    if shortlister is not None:
        out["shortlist_recall"] = shortlist_recall(shortlister, run.sp, text.src, text.tgt, run.config.data.max_len - 1)
    for name, cfg in cfgs.items():
        t = time.perf_counter()
        hyps = [t.text for t in translator_for(runs, cfg, 1, shortlister, slots).translate(text.src)]
        seconds = time.perf_counter() - t
        chrf = sacrebleu.CHRF()
        out[name] = {
            **bleu(hyps, text.tgt),
            "chrf": chrf.corpus_score(hyps, [text.tgt]).score,
            "chrf_signature": str(chrf.get_signature()),
            "seconds": seconds,
            "mean_len": sum(len(h.split()) for h in hyps) / max(len(hyps), 1),
        }
    return out


def shortlist_recall(lister, sp, src_text: list[str], ref_text: list[str], limit: int) -> float:
    """The share of reference tokens that their sentence's shortlist holds: an upper bound on what it lets through."""
    hit = total = 0
    for src, ref in zip(sp.encode(src_text), sp.encode(ref_text)):
        listed = set(lister.sentence(np.asarray(src[:limit], np.int32)).tolist())
        hit += sum(t in listed for t in ref)
        total += len(ref)
    return hit / max(total, 1)
