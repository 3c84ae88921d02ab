"""Subword regularisation (Kudo, 2018): each epoch the training pairs are cut into pieces anew, sampled from the
unigram model (`data.spm_alpha`, `data.spm_nbest`). The sample is a pure function of (seed, epoch), so a resumed
run sees the segmentations an uninterrupted one saw; batches keep the bucket shapes of the run."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sentencepiece as spm

from nmt.data.batching import Examples


def segmentation_sampler(
    sp, src_text: list[str], tgt_text: list[str], examples: Examples, alpha: float, nbest: int, max_len: int, seed: int
) -> Callable[[int], Examples]:
    """epoch -> the training examples in that epoch's sampled segmentation.

    Args:
      src_text, tgt_text: the split's kept lines; `examples.index` points into them (as `encode_split` makes it).
      examples: the deterministic segmentation, kept for a side whose sample would exceed max_len (with eos).
    """
    src_lines = [src_text[i] for i in examples.index]
    tgt_lines = [tgt_text[i] for i in examples.index]

    def encode(lines: list[str]) -> list[list[int]]:  # one thread: the sample follows the seed alone
        return sp.encode(lines, enable_sampling=True, alpha=alpha, nbest_size=nbest, num_threads=1)

    def sample(epoch: int) -> Examples:
        spm.set_random_generator_seed(int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0]))
        src, tgt = encode(src_lines), encode(tgt_lines)
        src = [s if len(s) < max_len else d for s, d in zip(src, examples.src)]
        tgt = [t if len(t) < max_len else d for t, d in zip(tgt, examples.tgt)]
        return Examples(src, tgt, examples.index)

    return sample
