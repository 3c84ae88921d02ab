import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nmt.data.vocab import BOS, EOS, PAD
from nmt.decode import BeamConfig, beam_decode, greedy_decode, score_outputs
from nmt.decode.search import max_output_len
from nmt.decode.shortlist import Lexicon, Shortlister, load_lexicon, train_lexicon
from nmt.run.lexicon import LEXICON_FILE
from tests.helpers import SHORTLIST_VOCAB as VOCAB
from tests.helpers import model_and_params, one_line_error, random_batch, random_lexicon, run_cli


def test_ibm1_finds_the_word_translations():
    """Source word s always translates to s + 10, in any order, beside a target word that every sentence has."""
    rng = np.random.default_rng(0)
    src, tgt = [], []
    for _ in range(400):
        words = list(rng.choice(np.arange(4, 14), rng.integers(2, 6), replace=False))
        src.append(words)
        tgt.append(list(rng.permutation([w + 10 for w in words] + [30])))
    lex = train_lexicon(src, tgt, VOCAB, iterations=10, per_source=3)
    assert lex.table.shape == (VOCAB, 3)
    np.testing.assert_array_equal(lex.table[4:14, 0], np.arange(14, 24))
    assert np.all(lex.table[14:, 0] == -1)  # never seen on the source side
    assert lex.frequent[0] == 30 and set(lex.frequent) == set(range(14, 24)) | {30}


def test_shortlist_holds_eos_frequent_and_translations_and_ignores_batch_mates():
    lex = random_lexicon()
    lister = Shortlister(lex, size=20, frequent=5, per_source=2)
    src = np.asarray(random_batch(np.random.default_rng(1), 6, 7, 2, vocab=VOCAB)[0])
    ids, listed = lister(src)
    assert len(ids) in (20, VOCAB) and listed.shape == (6, len(ids))  # a multiple of size, at most the vocabulary
    for row, mine in zip(src, listed):
        alone = lister.sentence(row)
        assert len(alone) == 20 == len(set(alone.tolist())) and np.all(np.diff(alone) > 0)
        assert EOS in alone and PAD not in alone and BOS not in alone
        assert set(lex.frequent[:5]) <= set(alone) and set(lex.table[row[row > EOS], :2].ravel()) <= set(alone)
        np.testing.assert_array_equal(ids[mine], alone)  # the union's mask gives back the sentence's own list
        padded = np.pad(row, (0, 5))
        np.testing.assert_array_equal(lister.sentence(padded), alone)


def test_shortlist_size_is_checked():
    with pytest.raises(ValueError, match="size must be between 1 and 37"):
        Shortlister(random_lexicon(), size=38)


@pytest.fixture(scope="module")
def model():
    model, params = model_and_params("model.attention=general", vocab=VOCAB, seed=5)
    return model, jax.tree.map(lambda x: x * 4.0, params)  # sharper than the initialisation


def sources(n, s, seed):
    return random_batch(np.random.default_rng(seed), n, s, 2, vocab=VOCAB)[0]


def test_a_shortlist_of_every_token_changes_nothing(model):
    model, params = model
    words = np.asarray([t for t in range(VOCAB) if t not in (PAD, BOS, EOS)], np.int32)
    lister = Shortlister(
        Lexicon(words, random_lexicon().table), size=VOCAB - 2, frequent=VOCAB, per_source=2
    )  # every token but PAD and BOS
    src = sources(4, 6, 0)
    cfg = BeamConfig(beam=4, nbest=4)
    ml = max_output_len(src.shape[1], cfg)
    ids, listed = lister(np.asarray(src))
    assert listed.sum(1).tolist() == [VOCAB - 2] * 4
    full = beam_decode(model, params, src, cfg, ml)
    short = beam_decode(model, params, src, cfg, ml, shortlist=(ids, listed))
    np.testing.assert_array_equal(full["tokens"], short["tokens"])
    np.testing.assert_allclose(full["scores"], short["scores"], atol=1e-5)


def test_shortlist_search_emits_listed_tokens_scores_them_and_ignores_the_batch(model):
    model, params = model
    lister = Shortlister(random_lexicon(3), size=10, frequent=2, per_source=2)
    src = sources(5, 6, 1)
    cfg = BeamConfig(beam=4, alpha=0.6, beta=0.2, nbest=4)
    ml = max_output_len(src.shape[1], cfg)
    ids, listed = lister(np.asarray(src))
    res = beam_decode(model, params, src, cfg, ml, shortlist=(ids, listed))
    greedy = greedy_decode(model, params, src, BeamConfig(beam=1), ml, (ids, listed))
    greedy_full = greedy_decode(model, params, src, BeamConfig(beam=1), ml)
    assert not np.array_equal(greedy, greedy_full)  # the shortlist does restrict this model
    for b in range(src.shape[0]):
        mine = set(lister.sentence(np.asarray(src[b])).tolist()) | {PAD}
        assert set(np.asarray(res["tokens"][b]).ravel().tolist()) <= mine
        assert set(np.asarray(greedy[b]).tolist()) <= mine
        one = jnp.repeat(src[b : b + 1], 4, 0)
        tf = score_outputs(model, params, one, res["tokens"][b], cfg, (ids, np.repeat(listed[b : b + 1], 4, 0)))
        np.testing.assert_allclose(res["scores"][b], tf["score"], atol=1e-4)
        np.testing.assert_allclose(res["logp"][b], tf["logp"], atol=1e-4)
        n = int((src[b] != PAD).sum())
        alone_sl = lister(np.asarray(src[b : b + 1, :n]))  # a different union, padded differently
        alone = beam_decode(model, params, src[b : b + 1, :n], cfg, ml, shortlist=alone_sl)
        np.testing.assert_array_equal(alone["tokens"][0], res["tokens"][b])
        np.testing.assert_allclose(alone["scores"][0], res["scores"][b], atol=1e-5)
    beam1 = beam_decode(model, params, src, BeamConfig(beam=1, alpha=0.0), ml, shortlist=(ids, listed))
    np.testing.assert_array_equal(beam1["tokens"][:, 0], greedy)


def test_translate_cli_with_a_shortlist(tiny_run):
    lines = b"the cat sees a dog\n\nbig red car\n"
    r = run_cli("nmt.translate", "--checkpoint", tiny_run, "--beam", "3", "--shortlist", "12", stdin=lines)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.decode().split("\n")) == 4 and r.stdout.decode().split("\n")[1] == ""
    lex = load_lexicon(os.path.join(tiny_run, LEXICON_FILE))  # trained on first use and kept
    assert lex.table.shape[0] > 0 and EOS not in lex.frequent
    r = run_cli("nmt.translate", "--checkpoint", tiny_run, "--shortlist", "100000", stdin=lines)
    assert one_line_error(r).startswith("nmt.translate: error: --shortlist: size must be")


def test_release_keeps_the_lexicon_and_bench_takes_a_shortlist(tiny_run, tmp_path):
    from nmt import release

    lines = b"a man eats\nthe cat sees a dog\n"
    args = ("--beam", "3", "--shortlist", "12")
    first = run_cli("nmt.translate", "--checkpoint", tiny_run, *args, stdin=lines)  # trains the lexicon if needed
    out = str(tmp_path / "released")
    release.main(["--checkpoint", tiny_run, "--out", out])
    assert os.path.isfile(os.path.join(out, LEXICON_FILE))
    again = run_cli("nmt.translate", "--checkpoint", out, *args, stdin=lines)
    assert first.returncode == again.returncode == 0 and first.stdout == again.stdout
    r = run_cli(
        "nmt.bench",
        "decode",
        "--checkpoint",
        tiny_run,
        "--sentences",
        "8",
        "--batch1-sentences",
        "2",
        "--repeats",
        "1",
        "--beam",
        "2",
        "--shortlist",
        "12",
    )
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    res = json.loads(r.stdout.decode().strip().splitlines()[-1])
    assert res["shortlist"] == 12 and res["batch64_sentences"] == 8 and res["tokens_per_s_batch64"] > 0


def test_shortlist_recall_counts_reference_tokens_in_their_own_list():
    from nmt.run.translation import shortlist_recall

    class Pieces:  # "a b" -> [a, b]
        def encode(self, texts):
            return [[int(x) for x in t.split()] for t in texts]

    frequent = np.arange(4, VOCAB, dtype=np.int32)
    table = np.full((VOCAB, 1), -1, np.int32)
    table[10, 0] = 30
    lister = Shortlister(Lexicon(frequent, table), size=3, frequent=1, per_source=1)  # EOS, 4, and 30 for 10
    # Sentence 1 lists {EOS, 4, 30}: 2 of its 3 reference tokens; sentence 2 lists {EOS, 4, 5}: 1 of 2.
    assert shortlist_recall(lister, Pieces(), ["10 11", "12"], ["30 4 7", "5 9"], limit=10) == 3 / 5


def test_a_bad_lexicon_file_is_one_line(tiny_run, tmp_path):
    import shutil

    run = str(tmp_path / "run")
    shutil.copytree(tiny_run, run)
    for content, message in ((b"not a zip", "unreadable lexicon"), (None, "not this run's vocabulary")):
        path = os.path.join(run, LEXICON_FILE)
        if content is None:
            np.savez(path, frequent=np.arange(4, 9), table=np.zeros((9, 2), np.int32))
        else:
            with open(path, "wb") as f:
                f.write(content)
        r = run_cli("nmt.translate", "--checkpoint", run, "--shortlist", "4", stdin=b"a man\n")
        err = one_line_error(r)
        assert message in err and "delete it to retrain it" in err, err
