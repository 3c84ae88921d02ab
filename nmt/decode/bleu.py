"""Corpus BLEU through sacrebleu (13a tokenisation), cased and lowercased, with sacrebleu's signature."""

from __future__ import annotations

import sacrebleu


def bleu(hyps: list[str], refs: list[str]) -> dict:
    cased = sacrebleu.BLEU()
    lower = sacrebleu.BLEU(lowercase=True)
    return {
        "bleu": cased.corpus_score(hyps, [refs]).score,
        "bleu_lc": lower.corpus_score(hyps, [refs]).score,
        "signature": str(cased.get_signature()),
        "signature_lc": str(lower.get_signature()),
    }
