import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nmt.data.vocab import EOS, PAD
from nmt.decode import BeamConfig, beam_decode, embedding_projection, greedy_decode, score_outputs
from nmt.decode.beam import BeamState, candidates, make_search, sentence_done
from nmt.decode.search import max_output_len
from nmt.utils import NEG_INF
from tests.helpers import model_and_params, random_batch

VOCAB = 7  # PAD, UNK, BOS, EOS + 3 words: small enough to enumerate every output


@pytest.fixture(scope="module", params=["luong", "gnmt"])
def tiny_model(request):
    model, params = model_and_params(
        "model.attention=general", "model.dec_layers=2", f"model.decoder={request.param}", vocab=VOCAB, seed=3
    )
    # Sharper distributions than the small initialisation, so that the best output is unambiguous.
    return model, jax.tree.map(lambda x: x * 8.0, params)


def sources(n, s, seed):
    return random_batch(np.random.default_rng(seed), n, s, 2, vocab=VOCAB)[0]


def test_beam_one_equals_greedy(tiny_model):
    model, params = tiny_model
    src = sources(6, 7, 0)
    cfg = BeamConfig(beam=1, alpha=0.0)
    max_len = max_output_len(src.shape[1], cfg)
    greedy = greedy_decode(model, params, src, cfg, max_len)
    beam = beam_decode(model, params, src, cfg, max_len)
    np.testing.assert_array_equal(beam["tokens"][:, 0], greedy)


@pytest.mark.parametrize("alpha, beta", [(0.0, 0.0), (0.6, 0.0), (1.0, 0.3)])
def test_wide_beam_finds_the_exhaustive_best(tiny_model, alpha, beta):
    model, params = tiny_model
    limit = 4  # every output has at most 3 words + EOS
    cfg = BeamConfig(beam=128, alpha=alpha, beta=beta, max_len_a=0.0, max_len_b=limit)
    src = sources(3, 5, 1)
    words = [t for t in range(VOCAB) if t not in (PAD, 2, EOS)]
    outputs = [list(p) + [EOS] for n in range(limit) for p in itertools.product(words, repeat=n)]
    grid = np.full((len(outputs), limit), PAD, np.int32)
    for i, o in enumerate(outputs):
        grid[i, : len(o)] = o
    found = beam_decode(model, params, src, cfg, limit)
    for b in range(src.shape[0]):
        scores = score_outputs(model, params, jnp.repeat(src[b : b + 1], len(outputs), 0), jnp.asarray(grid), cfg)
        best = int(np.argmax(scores["score"]))
        np.testing.assert_array_equal(found["tokens"][b, 0], grid[best])
        np.testing.assert_allclose(found["scores"][b, 0], scores["score"][best], atol=1e-4)


@pytest.mark.parametrize("alpha, beta, penalty", [(0.6, 0.0, "gnmt"), (1.0, 0.4, "plain"), (0.0, 0.2, "gnmt")])
def test_scores_equal_teacher_forced_scores_and_nbest_is_sorted_and_distinct(tiny_model, alpha, beta, penalty):
    model, params = tiny_model
    cfg = BeamConfig(beam=5, alpha=alpha, beta=beta, length_penalty=penalty, nbest=5)
    src = sources(4, 6, 2)
    res = beam_decode(model, params, src, cfg, max_output_len(src.shape[1], cfg))
    for b in range(src.shape[0]):
        scores = np.asarray(res["scores"][b])
        assert np.all(np.diff(scores) <= 0) and scores[0] > -1e8
        seqs = [tuple(s) for s in np.asarray(res["tokens"][b])]
        assert len(set(seqs)) == len(seqs)
        tf = score_outputs(model, params, jnp.repeat(src[b : b + 1], 5, 0), res["tokens"][b], cfg)
        np.testing.assert_allclose(res["scores"][b], tf["score"], atol=1e-4)
        np.testing.assert_allclose(res["logp"][b], tf["logp"], atol=1e-4)


@pytest.mark.parametrize("stop", ["exact", "current"])
def test_translation_does_not_depend_on_batch_or_padding(tiny_model, stop):
    model, params = tiny_model
    # all four hypotheses are returned: only the returned n-best is final when a sentence's search stops, the rest
    # of its finished pool may still grow while the other sentences of a batch go on
    cfg = BeamConfig(beam=4, alpha=0.6, beta=0.1, nbest=4, stop=stop)
    src = sources(5, 6, 3)
    padded = jnp.pad(src, ((0, 0), (0, 4)))
    max_len = max_output_len(padded.shape[1], cfg)
    together = beam_decode(model, params, padded, cfg, max_len)
    for b in range(5):
        n = int((src[b] != PAD).sum())
        alone = beam_decode(model, params, src[b : b + 1, :n], cfg, max_len)
        np.testing.assert_array_equal(alone["tokens"][0], together["tokens"][b])
        np.testing.assert_allclose(alone["scores"][0], together["scores"][b], atol=1e-5)


def test_search_compiles_once_per_bucket_shape(tiny_model):
    model, params = tiny_model
    cfg = BeamConfig(beam=3)
    before = beam_decode._cache_size()
    for seed in range(3):
        beam_decode(model, params, sources(4, 9, 10 + seed), cfg, max_output_len(9, cfg))
    assert beam_decode._cache_size() == before + 1
    beam_decode(model, params, sources(4, 12, 20), cfg, max_output_len(12, cfg))
    assert beam_decode._cache_size() == before + 2


def test_a_kept_embedding_projection_changes_nothing(tiny_model):
    model, params = tiny_model
    src = sources(4, 6, 4)
    cfg = BeamConfig(beam=3, nbest=3)
    max_len = max_output_len(src.shape[1], cfg)
    projected = embedding_projection(model, params)
    assert projected.shape == (VOCAB, 4 * model.cfg.hidden)
    plain, kept = (
        beam_decode(model, params, src, cfg, max_len),
        beam_decode(model, params, src, cfg, max_len, projected=projected),
    )
    np.testing.assert_array_equal(plain["tokens"], kept["tokens"])
    np.testing.assert_allclose(plain["scores"], kept["scores"], atol=1e-5)
    np.testing.assert_array_equal(
        greedy_decode(model, params, src, cfg, max_len),
        greedy_decode(model, params, src, cfg, max_len, None, projected),
    )


@pytest.mark.parametrize("selection", ["fused", "blocked"])
@pytest.mark.parametrize("v, lists", [(50, None), (5, None), (1500, None), (40, "shared"), (40, "per_sentence")])
def test_fused_candidates_equal_those_of_the_normalised_logits(v, lists, selection):
    """Ranking each beam's raw logits first (with one top-k, or by blocks where V is long enough) picks the
    candidates, scores and order that ranking all K x V normalised log-probabilities picks: with empty beams,
    sentences at their length limit, V < 2K, shortlists."""
    b, k = 3, 4
    rng = np.random.default_rng(0)
    logits = jnp.asarray(rng.normal(0, 3, (b, k, v)), jnp.float32)
    live = jnp.asarray(rng.normal(-5, 2, (b, k)), jnp.float32).at[0, 1:].set(NEG_INF)  # sentence 0: one live beam
    at_limit = jnp.asarray([False, True, False])
    shortlist = None
    if lists:
        ids = jnp.asarray(
            rng.permutation(np.arange(100))[:v]
            if lists == "shared"
            else np.stack([rng.permutation(100)[:v] for _ in range(b)])
        )
        ids = ids.at[..., 0].set(EOS)
        shortlist = (ids, jnp.asarray(rng.random((b, v)) < 0.7))
    fused, plain = (
        candidates(live, logits, at_limit, BeamConfig(beam=k, topk=t), shortlist) for t in (selection, "plain")
    )
    valid = np.asarray(plain[0]) > NEG_INF / 2
    assert valid.sum() >= k and np.array_equal(valid, np.asarray(fused[0]) > NEG_INF / 2)
    np.testing.assert_allclose(np.asarray(fused[0])[valid], np.asarray(plain[0])[valid], rtol=1e-6)
    for f, p in zip(fused[1:], plain[1:]):
        np.testing.assert_array_equal(np.asarray(f)[valid], np.asarray(p)[valid])


def test_fused_and_plain_candidate_selection_give_the_same_search(tiny_model):
    model, params = tiny_model
    src = sources(4, 6, 5)
    runs = [
        beam_decode(model, params, src, cfg, max_output_len(src.shape[1], cfg))
        for cfg in (BeamConfig(beam=4, nbest=4, topk=t) for t in ("fused", "plain"))
    ]
    np.testing.assert_array_equal(runs[0]["tokens"], runs[1]["tokens"])
    np.testing.assert_allclose(runs[0]["scores"], runs[1]["scores"], atol=1e-5)


def test_the_current_stop_rule_ends_a_search_the_exact_rule_goes_on_with():
    """One finished hypothesis (log P -4 at length 5) against a live one (log P -4.5 after 5 tokens) of 30 allowed:
    exact goes on (the live one could still score -4.5 / lp(30)), current ends (-4.5 / lp(6) is below -4 / lp(5))."""
    st = BeamState(
        t=jnp.asarray([5]),
        last=jnp.zeros((1, 2), jnp.int32),
        live_logp=jnp.asarray([[-4.5, NEG_INF]]),
        live_seqs=jnp.zeros((1, 2, 30), jnp.int32),
        live_cov=jnp.zeros((1, 2, 3)),
        dec=(),
        fin_scores=jnp.asarray([[-4.0 / ((5 + 5) / 6) ** 0.6, NEG_INF]]),
        fin_logp=jnp.asarray([[-4.0, NEG_INF]]),
        fin_seqs=jnp.zeros((1, 2, 30), jnp.int32),
        fin_attn=jnp.zeros((0,)),
        live_attn=jnp.zeros((0,)),
    )
    limits = jnp.asarray([30])
    assert not sentence_done(st, limits, BeamConfig(beam=2, alpha=0.6))[0]
    assert sentence_done(st, limits, BeamConfig(beam=2, alpha=0.6, stop="current"))[0]
    # without a length penalty a longer hypothesis can only lose: the two rules are one (here both end)
    flat = st.replace(fin_scores=jnp.asarray([[-4.0, NEG_INF]]))
    for stop in ("exact", "current"):
        assert sentence_done(flat, limits, BeamConfig(beam=2, alpha=0.0, stop=stop))[0]
    assert not sentence_done(flat.replace(live_logp=jnp.asarray([[-3.9, NEG_INF]])), limits, BeamConfig(alpha=0.0))[0]


@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0])
def test_the_current_stop_rule_stops_no_later_and_finds_no_better(tiny_model, alpha):
    model, params = tiny_model
    src = sources(8, 7, 5)
    runs = {}
    for stop in ("exact", "current"):
        cfg = BeamConfig(beam=3, alpha=alpha, stop=stop)
        runs[stop] = beam_decode(model, params, src, cfg, max_output_len(src.shape[1], cfg))
    exact, current = runs["exact"], runs["current"]
    assert int(current["steps"]) <= int(exact["steps"])
    # the exact search follows the same beams past the point where the current rule stops: it can only add to them
    assert np.all(np.asarray(current["scores"][:, 0]) <= np.asarray(exact["scores"][:, 0]) + 1e-5)
    if alpha == 0.0:  # the n-best (here the best) alike; the rest of a finished pool may grow after a search ends
        np.testing.assert_array_equal(current["tokens"][:, 0], exact["tokens"][:, 0])


def _scripted_step(dec, tokens):
    """A model whose next-token probabilities follow a script by row and step (tokens: 4 = a word): row 0 ends at
    once with P 0.905, or else says four words and ends, a lower log P that the length penalty makes the better
    score; row 1 says six words and ends, so that a batch's search goes on past row 0's first end."""
    t, row = dec["t"], dec["row"]
    p_end = jnp.where(row == 0, jnp.where(t == 0, 0.905, jnp.where(t >= 4, 1.0, 0.0)), jnp.where(t >= 6, 1.0, 0.0))
    p_end = jnp.clip(p_end, 1e-6, 1 - 1e-6)
    probs = jnp.stack([jnp.full_like(p_end, 1e-9)] * 3 + [p_end, 1 - p_end], -1)  # PAD, UNK, BOS, EOS, word
    return dict(t=t + 1, row=row), jnp.log(probs), jnp.zeros(t.shape + (1,))


@pytest.mark.parametrize("stop, best", [("exact", [4, 4, 4, 4, EOS]), ("current", [EOS])])
def test_a_search_that_stopped_keeps_its_result_while_its_batch_goes_on(stop, best):
    cfg = BeamConfig(beam=2, alpha=2.0, length_penalty="plain", max_len_a=0.0, max_len_b=8, stop=stop)
    dec = dict(t=jnp.zeros((2, 2), jnp.int32), row=jnp.asarray([[0, 0], [1, 1]]))
    init, cond, body = make_search(_scripted_step, dec, jnp.ones((2, 1), bool), cfg, 8)
    st = jax.lax.while_loop(cond, body, init)
    n = len(best)
    np.testing.assert_array_equal(st.fin_seqs[0, 0, :n], best)
    assert np.all(np.asarray(st.fin_seqs[0, 0, n:]) == PAD)
    # exact: log 0.095 over 5^2 beats log 0.905 over 1^2; current ends row 0 after its first step (its live
    # hypothesis, log 0.095 over 2^2, is below) and holds it there while row 1 goes on
    np.testing.assert_allclose(st.fin_scores[0, 0], np.log(0.095) / 25 if stop == "exact" else np.log(0.905), rtol=1e-4)
