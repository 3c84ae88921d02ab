"""Subword regularisation: sampled segmentations, reproducible from (seed, epoch) and across a resume."""

import numpy as np

from nmt.data import BatchIterator, load_data
from nmt.data.sampling import segmentation_sampler
from tests.helpers import tiny_config


def _sampler(corpus_dir, seed=0):
    config = tiny_config(corpus_dir, "data.spm_alpha=0.5")
    data = load_data(config.data)
    train = data.train
    sample = segmentation_sampler(
        data.sp, train.src_text, train.ref_text, train.examples, 0.5, -1, config.data.max_len, seed
    )
    return config, data, sample


def test_sampled_segmentations_follow_seed_and_epoch_and_spell_the_same_text(corpus_dir):
    _, data, sample = _sampler(corpus_dir)
    e1, e2, e1_again = sample(1), sample(2), sample(1)
    assert e1.src == e1_again.src and e1.tgt == e1_again.tgt
    assert e1.src != e2.src and e1.src != data.train.examples.src
    assert e1.src != _sampler(corpus_dir, seed=1)[2](1).src
    ex = data.train.examples
    for k in range(0, len(ex), 37):
        i = ex.index[k]
        assert data.sp.decode(e1.src[k]) == data.sp.decode(ex.src[k]) == data.train.src_text[i].strip()
        assert data.sp.decode(e1.tgt[k]) == data.sp.decode(ex.tgt[k])


def test_batches_of_sampled_epochs_resume_exactly_in_the_bucket_shapes(corpus_dir):
    config, data, sample = _sampler(corpus_dir)
    d = config.data
    make = lambda: BatchIterator(data.train.examples, d.buckets, d.batch_tokens, 0, resample=sample)
    it = make()
    first_epoch = it.steps_per_epoch()
    batches = [next(it) for _ in range(first_epoch + 5)]
    position = it.position
    assert position["epoch"] == 1
    after = [next(it) for _ in range(5)]
    resumed = make()
    resumed.restore(position)
    for a, b in zip(after, [next(resumed) for _ in range(5)]):
        assert all(np.array_equal(a[k], b[k]) for k in a)
    assert {b["src"].shape[1] for b in batches + after} <= set(d.buckets)
    plain = BatchIterator(data.train.examples, d.buckets, d.batch_tokens, 0)
    assert any(not np.array_equal(a["src"], next(plain)["src"]) for a in batches[:5])
