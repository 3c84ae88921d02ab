"""Translating and scoring text with a loaded run: lines in, lines out, in order; a split's BLEU and chrF."""
from __future__ import annotations

import logging
import time

import numpy as np

from nmt.data import Examples, corpus, pipeline
from nmt.decode import translate_examples
from nmt.decode.ensemble import ensemble_translate

logger = logging.getLogger(__name__)


def _listing(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers[:20])) + (" ..." if len(numbers) > 20 else "")


def translate_lines(run, lines: list[str], cfg, nbest: int = 1, shortlister=None, slots: int | None = None):
    """Translates non-empty lines (sorted into length buckets, order restored); returns per line a list of nbest
    (score, text), an empty line giving [(0.0, "")] * nbest. shortlister, slots: as for `translate_examples`.

    run: a loaded run, or a list of them (`load_runs`): an ensemble, searched as one (no shortlist, no slots); the
    first run's data settings (length limit, buckets) apply."""
    runs = run if isinstance(run, list) else [run]
    run = runs[0]
    limit = run.config.data.max_len - 1  # EOS takes the last place
    todo = [i for i, line in enumerate(lines) if line]
    ids = run.sp.encode([lines[i] for i in todo])
    long = [todo[j] + 1 for j, x in enumerate(ids) if len(x) > limit]
    if long:
        logger.warning(f"warning: {len(long)} lines longer than {limit} subword tokens were truncated: "
                       + _listing(long))
    ex = Examples([x[:limit] for x in ids], [[] for _ in ids], np.arange(len(ids)))
    if len(runs) > 1:
        out = ensemble_translate(tuple(r.model for r in runs), tuple(r.params for r in runs), ex, run.sp,
                                 run.config.data.search_buckets(), run.config.data.batch_tokens, cfg, nbest)
    else:
        out = translate_examples(run.model, run.params, ex, run.sp, run.config.data.search_buckets(),
                                 run.config.data.batch_tokens, cfg, nbest, shortlister, slots)
    results = [[(0.0, "")] * nbest for _ in lines]
    for j, i in enumerate(todo):
        results[i] = out[j] if nbest > 1 else [(0.0, out[j])]
    return results


def read_input(stream, name: str) -> list[str]:
    """Lines of a binary stream to translate; invalid UTF-8 is replaced and reported with its line numbers."""
    lines, bad = corpus.decode_lines(stream, name, invalid_utf8="replace")
    if bad:
        logger.warning(f"warning: {name}: invalid UTF-8 replaced on {len(bad)} lines: {_listing(bad)}")
    return lines


def evaluate_split(runs, split: str, cfgs: dict, shortlister=None, slots: int | None = None) -> dict:
    """Scores each named search configuration on `split` (a file prefix) of the run's corpus: BLEU, chrF, seconds
    and mean length. runs: a run or an ensemble's list (see `translate_lines`); shortlister, slots: as for
    `translate_examples`."""
    import sacrebleu  # here, not at the top: translating alone never scores, and the import costs start-up time

    from nmt.decode.bleu import bleu
    run = runs[0] if isinstance(runs, list) else runs
    text = corpus.read_parallel(*pipeline.split_paths(run.config.data, split),
                                invalid_utf8=run.config.data.invalid_utf8)
    logger.info(text.summary(split))
    out = {"split": split, "sentences": len(text.src), "step": run.step, "checkpoint": run.which}
    if shortlister is not None:
        out["shortlist_recall"] = shortlist_recall(shortlister, run.sp, text.src, text.tgt, run.config.data.max_len - 1)
    for name, cfg in cfgs.items():
        t = time.perf_counter()
        hyps = [h[0][1] for h in translate_lines(runs, text.src, cfg, 1, shortlister, slots)]
        seconds = time.perf_counter() - t
        chrf = sacrebleu.CHRF()
        out[name] = {**bleu(hyps, text.tgt), "chrf": chrf.corpus_score(hyps, [text.tgt]).score,
                     "chrf_signature": str(chrf.get_signature()), "seconds": seconds,
                     "mean_len": sum(len(h.split()) for h in hyps) / max(len(hyps), 1)}
    return out


def shortlist_recall(lister, sp, src_text: list[str], ref_text: list[str], limit: int) -> float:
    """The share of reference tokens that their sentence's shortlist holds: an upper bound on what it lets through."""
    hit = total = 0
    for src, ref in zip(sp.encode(src_text), sp.encode(ref_text)):
        listed = set(lister.sentence(np.asarray(src[:limit], np.int32)).tolist())
        hit += sum(t in listed for t in ref)
        total += len(ref)
    return hit / max(total, 1)
