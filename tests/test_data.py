import collections
import gzip
import os

import numpy as np
import pytest

from nmt.config import get_config
from nmt.data import BatchIterator, DataError, eval_batches, load_data, multi30k, read_parallel, vocab
from nmt.data.batching import Examples, filter_long, rows_for
from nmt.data.vocab import BOS, EOS
from tests.helpers import make_corpus, tiny_config


def write(path, data: bytes):
    path = str(path)
    with gzip.open(path, "wb") if path.endswith(".gz") else open(path, "wb") as f:
        f.write(data)
    return str(path)


def test_mismatched_line_counts_name_both_files(tmp_path):
    a = write(tmp_path / "x.en", b"one\ntwo\nthree\n")
    b = write(tmp_path / "x.de.gz", b"eins\nzwei\n")
    with pytest.raises(DataError) as e:
        read_parallel(a, b)
    assert a in str(e.value) and b in str(e.value) and "3" in str(e.value) and "2" in str(e.value)


def test_invalid_utf8_names_file_and_line(tmp_path):
    a = write(tmp_path / "x.en", b"ok\nbad \xff byte\nok\n")
    b = write(tmp_path / "x.de", b"gut\nschlecht\ngut\n")
    with pytest.raises(DataError, match=rf"{a}:2: invalid UTF-8"):
        read_parallel(a, b)
    text = read_parallel(a, b, invalid_utf8="replace")
    assert text.replaced == 1 and len(text.src) == 3 and "\ufffd" in text.src[1]
    assert "invalid UTF-8 replaced on 1 lines" in text.summary("x")


def test_empty_and_long_pairs_are_dropped_and_counted(tmp_path):
    a = write(tmp_path / "x.en", b"a b\n\nc\nd e f g h\n")
    b = write(tmp_path / "x.de", b"x\ny\n\nz\n")
    text = read_parallel(a, b)
    assert text.src == ["a b", "d e f g h"] and text.dropped["empty"] == 2
    ex = filter_long([[5, 6], [5, 6, 7, 8, 9]], [[5], [5]], max_len=4, dropped=text.dropped)
    assert len(ex) == 1 and list(ex.index) == [0]
    assert text.summary("x") == "data x: read 4, kept 2, dropped: empty 2, too_long 1"


def test_locate_search_order_and_offline_error(tmp_path, monkeypatch):
    first, second = tmp_path / "configured", tmp_path / "env"
    os.makedirs(first)
    os.makedirs(second)
    write(str(second / "val.en.gz"), b"x\n")
    monkeypatch.setenv("NMT_DATA_DIR", str(second))
    assert multi30k.locate("val", "en", "multi30k", str(first)) == str(second / "val.en.gz")
    write(str(first / "val.en"), b"x\n")
    assert multi30k.locate("val", "en", "multi30k", str(first)) == str(first / "val.en")

    def offline(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr(multi30k.urllib.request, "urlopen", offline)
    with pytest.raises(DataError) as e:
        multi30k.locate("train", "de", "multi30k", str(first))
    msg = str(e.value)
    assert str(first) in msg and str(second) in msg and "NMT_DATA_DIR" in msg and "network unreachable" in msg
    assert not any(p.endswith(".part") for p in os.listdir(os.path.join(multi30k.cache_dir(), "multi30k")))


def test_vocab_is_cached_by_inputs(tmp_path, monkeypatch):
    texts = [["the cat sat on the mat"] * 50, ["die katze sass auf der matte"] * 50]
    p1 = vocab.train_vocab(texts, 40, str(tmp_path))
    calls = []
    monkeypatch.setattr(vocab.spm.SentencePieceTrainer, "train", lambda **k: calls.append(k))
    assert vocab.train_vocab(texts, 40, str(tmp_path)) == p1 and not calls
    assert vocab.vocab_key(texts, 41) != vocab.vocab_key(texts, 40)
    assert vocab.vocab_key([texts[0], texts[1][:-1]], 40) != vocab.vocab_key(texts, 40)


def _examples(n=300, seed=0):
    rng = np.random.default_rng(seed)
    src = [list(rng.integers(4, 50, rng.integers(1, 30))) for _ in range(n)]
    tgt = [list(rng.integers(4, 50, rng.integers(1, 30))) for _ in range(n)]
    return Examples(src, tgt, np.arange(n))


@pytest.mark.parametrize("full_batches,pair_shapes", [(True, 0), (False, 0), (True, 3), (False, 3)])
def test_batches_have_bucket_shapes_and_cover_each_epoch_once(full_batches, pair_shapes):
    ex, buckets = _examples(), (8, 16, 32)
    it = BatchIterator(ex, buckets, 128, seed=3, full_batches=full_batches, pair_shapes=pair_shapes)
    seen, part_empty = collections.Counter(), collections.Counter()
    for _ in range(it.steps_per_epoch()):
        b = next(it)
        rows, src_len, tgt_len = b["src"].shape + b["tgt_in"].shape[1:]
        assert (rows, src_len, tgt_len) in it.shapes() and {src_len, tgt_len} <= set(buckets)
        assert b["tgt_in"].shape == b["tgt_out"].shape == (rows, tgt_len)
        seen.update(int(i) for i in b["index"] if i >= 0)
        part_empty[(src_len, tgt_len)] += int((b["index"] < 0).any())
        for src, tgt, i in zip(b["src"], b["tgt_out"], b["index"]):  # nothing is cut: every pair fits its batch
            if i >= 0:
                assert (src > 0).sum() == len(ex.src[i]) + 1 and (tgt > 0).sum() == len(ex.tgt[i]) + 1
    assert len(it.shapes()) == len(buckets) + pair_shapes and len({s[1:] for s in it.shapes()}) == len(it.shapes())
    assert seen == collections.Counter(range(len(ex)))
    if full_batches:  # only the longest shape's last batch may be part-empty
        assert sum(part_empty.values()) <= 1 and set(k for k, v in part_empty.items() if v) <= {(32, 32)}
    else:  # one per shape whose pairs do not fill whole batches
        assert sum(part_empty.values()) == sum(len(idx) % rows_for(t, 128) > 0 for (_, t), idx in it.groups.items())
    assert it.epoch == 0 and next(it) is not None and it.epoch == 1


def test_source_and_target_bucketed_apart_pad_less():
    """With pair shapes, a pair goes to the cheapest shape that holds both sides: fewer padded positions."""
    ex = _examples(2000)

    def padded(it):
        batches = [next(it) for _ in range(it.steps_per_epoch())]
        return sum(b["src"].size + b["tgt_out"].size - (b["src"] > 0).sum() - (b["tgt_out"] > 0).sum() for b in batches)

    assert padded(BatchIterator(ex, (8, 16, 32), 128, seed=0, pair_shapes=4)) < padded(
        BatchIterator(ex, (8, 16, 32), 128, seed=0)
    )


def test_shuffle_is_deterministic_and_resumable():
    ex = _examples()
    a = BatchIterator(ex, (8, 16, 32), 128, seed=1)
    first = [next(a)["index"] for _ in range(25)]
    b = BatchIterator(ex, (8, 16, 32), 128, seed=1)
    assert all(np.array_equal(x, next(b)["index"]) for x in first)
    c = BatchIterator(ex, (8, 16, 32), 128, seed=2)
    assert not all(np.array_equal(x, next(c)["index"]) for x in first)
    pos = a.position
    rest = [next(a)["index"] for _ in range(30)]
    d = BatchIterator(ex, (8, 16, 32), 128, seed=1)
    d.restore(pos)
    assert all(np.array_equal(x, next(d)["index"]) for x in rest)


def test_eval_batches_keep_every_sentence_and_truncate_long_ones():
    ex = _examples(50)
    ex.src[0], ex.tgt[0] = list(range(4, 60)), list(range(5, 45))  # longer than the largest bucket
    batches = eval_batches(ex, (8, 16, 32), 128)
    rows = [i for b in batches for i in b["index"] if i >= 0]
    assert sorted(rows) == list(range(50))
    batch, row = next((b, list(b["index"]).index(0)) for b in batches if 0 in b["index"])
    assert list(batch["src"][row]) == list(range(4, 35)) + [EOS]  # cut to the bucket, eos kept last
    assert list(batch["tgt_in"][row]) == [BOS] + list(range(5, 36))
    assert list(batch["tgt_out"][row]) == list(range(5, 36)) + [EOS]


def test_evaluation_sentences_cut_by_the_batches_are_counted(tmp_path, caplog):
    corpus = make_corpus(tmp_path / "corpus")
    for lang, words in (("src", "big tree"), ("tgt", "gib eert")):  # one val line far longer than every bucket
        with open(tmp_path / "corpus" / f"val.{lang}", "a") as f:
            f.write(" ".join([words] * 40) + "\n")
    caplog.set_level("INFO", logger="nmt")
    load_data(tiny_config(corpus, "data.eval_buckets=[12,24]").data)
    assert (
        "data val: read 31, kept 31, dropped: none, 1 sources truncated to 24 tokens, 1 targets truncated to 24 "
        "tokens for the loss"
    ) in caplog.messages


def test_load_data_summaries(corpus_dir, caplog):
    caplog.set_level("INFO", logger="nmt")
    data = load_data(tiny_config(corpus_dir).data)
    assert caplog.messages[0].startswith("data train: read 400, kept 400")
    assert len(data.val.examples) == 30 and data.sp.vocab_size() <= 80
    assert os.path.exists(data.vocab_path)


def test_config_errors_are_one_line():
    from nmt.config import ConfigError

    for bad in (
        ["model.hiden=3"],
        ["train.lr=abc"],
        ["model.attention=cosine"],
        ["data.buckets=[8,4]"],
        ["x"],
        ["parallel.momentum_rule=1-1/K"],
        ["parallel.average_opt_state=true", "parallel.reset_opt_state=true"],
    ):
        with pytest.raises(ConfigError) as e:
            get_config("tiny", bad)
        assert "\n" not in str(e.value)
        if bad[0].startswith("parallel."):  # the option is named
            assert bad[-1].split("=")[0] in str(e.value)
