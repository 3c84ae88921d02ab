import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nmt.data.vocab import EOS, PAD
from nmt.decode import BeamConfig, beam_decode, score_outputs
from nmt.decode.hypotheses import strip
from nmt.decode.search import encode_queue, max_output_len, queue_translate, source_projection
from nmt.decode.shortlist import Shortlister
from tests.helpers import LINES, model_and_params, one_line_error, random_batch, random_lexicon, run_cli
from tests.helpers import SHORTLIST_VOCAB as VOCAB

BUCKETS = (4, 8, 12)


@pytest.fixture(scope="module")
def model():
    model, params = model_and_params("model.attention=general", vocab=VOCAB, seed=7)
    return model, jax.tree.map(lambda x: x * 4.0, params)  # sharper than the initialisation


@pytest.mark.parametrize("shortlist,nbest,stop", [(None, 4, "exact"), (10, 1, "exact"), (None, 4, "current")])
def test_continuous_batching_gives_each_sentence_its_search_alone(model, shortlist, nbest, stop):
    """Seven sentences through three slots: each slot's sentence is searched exactly as alone (tokens, scores and
    the very number of steps), whenever it is admitted and whatever its neighbours."""
    model, params = model
    src = np.asarray(random_batch(np.random.default_rng(2), 7, 11, 2, vocab=VOCAB)[0])
    sources = [[t for t in row if t not in (PAD, EOS)] for row in src]
    lister = None if shortlist is None else Shortlister(random_lexicon(4), size=shortlist, frequent=2, per_source=2)
    cfg = BeamConfig(beam=4, alpha=0.6, beta=0.2, nbest=nbest, stop=stop)
    hyps, stats = queue_translate(model, params, sources, BUCKETS, cfg, 3, lister)
    alone_steps = 0
    for ids, (tokens, scores) in zip(sources, hyps):
        one = jnp.asarray([ids + [EOS]], jnp.int32)
        ml = max_output_len(one.shape[1], cfg)
        sl = None if lister is None else lister(np.asarray(one))
        alone = beam_decode(model, params, one, cfg, ml, shortlist=sl)
        alone_steps += int(alone["steps"])
        for j in range(nbest):
            assert strip(tokens[j]) == strip(alone["tokens"][0, j])
        np.testing.assert_allclose(scores[:nbest], alone["scores"][0, :nbest], atol=1e-5)
        if lister is not None:  # scores are the teacher-forced scores over the sentence's own list
            out = np.zeros((nbest, ml), np.int32)
            for j in range(nbest):
                seq = strip(tokens[j]) + [EOS]
                out[j, : len(seq)] = seq
            own = jnp.asarray(np.repeat(lister.lists(np.asarray(one)), nbest, 0))
            tf = score_outputs(model, params, jnp.repeat(one, nbest, 0), out, cfg, (own, jnp.ones(own.shape, bool)))
            np.testing.assert_allclose(scores[:nbest], tf["score"], atol=1e-4)
            assert set(np.asarray(tokens[:nbest]).ravel().tolist()) <= set(own[0].tolist()) | {PAD}
    assert stats["busy"] == alone_steps  # no slot-step is spent on anything but a sentence's own search
    assert stats["steps"] < alone_steps  # and the slots did run side by side


def test_translate_and_bench_with_slots(tiny_run, tmp_path):
    src = tmp_path / "in.txt"
    src.write_bytes(b"\n".join(LINES) + b"\n")
    outs = []
    for extra in ((), ("--slots", "2")):
        r = run_cli("nmt.translate", "--checkpoint", tiny_run, "--input", str(src), "--beam", "3", *extra)
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout)
    assert outs[0] == outs[1] and len(outs[0].decode().split("\n")) == len(LINES) + 1
    r = run_cli("nmt.translate", "--checkpoint", tiny_run, "--slots", "-1", stdin=b"a\n")
    assert one_line_error(r) == "nmt.translate: error: --slots must be >= 0, got -1"
    r = run_cli(
        "nmt.bench",
        "decode",
        "--checkpoint",
        tiny_run,
        "--sentences",
        "8",
        "--batch1-sentences",
        "1",
        "--repeats",
        "1",
        "--beam",
        "2",
        "--slots",
        "4",
    )
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    res = json.loads(r.stdout.decode().strip().splitlines()[-1])
    assert res["slots"] == 4 and res["batch64_sentences"] == 8 and res["tokens_per_s_batch64"] > 0
    assert 0 < res["row_fill_batch64"] <= 1


def test_encoder_with_the_source_table_and_queue_padding_gives_the_same_memory(model):
    model, params = model
    src = np.asarray(random_batch(np.random.default_rng(3), 5, 11, 2, vocab=VOCAB)[0])
    rows = [row[row != PAD] for row in src]
    whole = model.apply({"params": params}, jnp.asarray(src), method=model.encode)
    for table in (None, source_projection(model, params)):
        queue = encode_queue(model, params, rows, BUCKETS, rows=2, source=table)  # groups of own buckets, padded
        assert queue.mask.shape == (5, 12)
        np.testing.assert_array_equal(queue.mask[:, :11], whole.mask)
        assert not queue.mask[:, 11:].any()
        np.testing.assert_allclose(queue.values[:, :11], whole.values, atol=1e-5)
        np.testing.assert_allclose(queue.keys[:, :11], whole.keys, atol=1e-5)


@pytest.mark.parametrize("overlap", [True, False])
def test_sentences_that_arrive_while_the_search_runs_join_it_and_get_their_own_translations(tiny_run, overlap):
    """The live queue (nmt.decode.live): tickets submitted between chunks of decoder steps are admitted into free
    slots of the running search, each sentence gets the translation it gets alone, and a cancelled ticket's slots
    are freed at once; with the host's work overlapping the next chunk or not."""
    from nmt.decode import BeamConfig
    from nmt.run import load_run
    from nmt.run.translation import translator_for

    run = load_run(tiny_run)
    translator = translator_for(run, BeamConfig(beam=3), nbest=2, slots=4)
    translator.queue_rows = 8  # a ring smaller than the sentences: rows are reused
    translator.solo = False  # every sentence through the live queue, the lone first one too
    translator.overlap = overlap
    lines = [
        "the cat sees a dog",
        "a man eats",
        " ".join(["big tree"] * 6),
        "red car drives fast",
        "the house",
        "woman runs",
        "a small blue car",
        "the man sees the tree",
        "green apple",
        "dog",
    ]
    alone = {i: translator_for(run, BeamConfig(beam=3), nbest=2).translate([line])[0] for i, line in enumerate(lines)}
    live = translator._stream().live
    first = translator.submit(lines[2:3])
    translator.collect(2)
    assert live.busy_slots() == 1
    second = translator.submit(lines[:2])
    translator.collect(1)  # admitted beside the first while it is still searched
    assert live.busy_slots() == 3 and first not in translator._stream().collect(0)
    doomed = translator.submit(["the cat sees a dog", "a man eats a green apple"])
    third = translator.submit(lines[3:])
    done = {}
    numbers = set()
    while not numbers & set(np.asarray(live.state.sentence).tolist()):
        done.update(translator.collect(1))
        numbers = set(translator._stream().tickets[doomed].numbers)
    searched = numbers & set(np.asarray(live.state.sentence).tolist())
    busy = live.busy_slots()
    translator.cancel(doomed)  # its slots are freed now, its waiting sentences never searched for it
    assert live.busy_slots() == busy - len(searched) == translator.slot_use()[0]  # the host's count agrees
    assert not numbers & set(np.asarray(live.state.sentence).tolist())
    lanes = []
    while not translator.idle():
        done.update(translator.collect(1))
        lanes.append((live.lane, len(live.unread)))
    assert any(lane == 4 and unread > 1 for lane, unread in lanes)
    # a long and a short sentence: once the short one is done the queue moves to one slot while the long one is
    # searched, and its search moves with it
    pair = translator.submit([lines[2], lines[9]])
    lanes = []
    while not translator.idle():
        unread = len(live.unread)
        done.update(translator.collect(1))
        lanes.append((live.lane, unread))  # the lane a step ran in, and the sentences unread as it began
    assert (2, 2) in lanes and (1, 1) in lanes and live.lane == 1 and not live.unread, str(lanes)
    assert done.pop(pair) == [alone[2], alone[9]]
    assert set(done) == {first, second, third}
    got = dict(zip([2, 0, 1] + list(range(3, 10)), done[first] + done[second] + done[third]))
    assert got == alone
    assert live.room() == translator.queue_rows and live.busy_slots() == 0


@pytest.mark.parametrize("overlap", [True, False])
def test_a_cap_below_the_busy_slots_waits_for_them_and_drops_no_search(tiny_run, overlap):
    """The cap (nmt.decode.lanes.pick_lane) lowered while every slot is busy: the lane shrinks only as slots free,
    every sentence still gets the translation it gets alone, and later sentences wait for one of the cap's slots."""
    from nmt.run import load_run
    from nmt.run.translation import translator_for

    run = load_run(tiny_run)
    translator = translator_for(run, BeamConfig(beam=3), nbest=1, slots=4)
    translator.solo, translator.overlap = False, overlap
    lines = ["the cat sees a dog", " ".join(["big tree"] * 6), "a man eats a green apple", "red car drives fast"]
    later = ["the house", "woman runs", "a small blue car"]
    alone = translator_for(run, BeamConfig(beam=3), nbest=1)
    live = translator._stream().live
    first = translator.submit(lines)
    done = translator.collect(1)
    assert live.busy_slots() == 4 and live.lane == 4
    live.cap = 1
    second = translator.submit(later)
    seen = []
    for _ in range(300):  # a dropped search would never finish
        busy = live.busy
        done.update(translator.collect(1))
        busy = live.busy if overlap else busy  # the count the lane was picked with: overlapping, the chunk before's
        seen.append((live.lane, busy))
        assert live.lane == min(lane for lane in live.lanes if lane >= max(1, busy)), seen
        if translator.idle():
            break
    assert seen[-1][0] == 1 and any(lane == 4 for lane, _ in seen[1:]), seen
    assert done == {first: alone.translate(lines), second: alone.translate(later)}


def test_a_lane_change_moves_each_busy_slots_search_whole():
    """Shrinking keeps the busy slots (in their order) with every leaf of their search; growing keeps every slot
    where it is and adds empty ones."""

    from nmt.decode.continuous import QueueState
    from nmt.decode.lanes import default_lanes, lane_cap, resize

    def state(slots, sentence, seed):
        r = np.random.default_rng(seed)
        return QueueState(
            beam={"h": jnp.asarray(r.normal(size=(slots, 3, 2)), jnp.float32)},
            ctx=jnp.asarray(r.normal(size=(slots, 5)), jnp.float32),
            sentence=jnp.asarray(sentence, jnp.int32),
            src_mask=jnp.ones((slots, 7), bool),
            limits=jnp.arange(slots, dtype=jnp.int32),
            ids=jnp.zeros((0,), jnp.int32),
            next=jnp.asarray(9),
            steps=jnp.asarray(0),
            busy=jnp.asarray(0),
            tokens=jnp.asarray(r.integers(0, 9, size=(8, 2, 6)), jnp.int32),
            scores=jnp.zeros((8, 2)),
            logp=jnp.zeros((8, 2)),
            done=jnp.zeros((8,), bool),
        )

    big = state(4, [-1, 7, -1, 5], 0)
    small = resize(jax.tree.map(jnp.copy, big), state(2, [-1, -1], 1))
    assert np.asarray(small.sentence).tolist() == [7, 5]
    np.testing.assert_array_equal(small.beam["h"], np.asarray(big.beam["h"])[[1, 3]])
    np.testing.assert_array_equal(small.ctx, np.asarray(big.ctx)[[1, 3]])
    np.testing.assert_array_equal(small.limits, [1, 3])
    np.testing.assert_array_equal(small.tokens, big.tokens)  # the results by queue row are not slots
    empty = state(4, [-1] * 4, 2)
    grown = resize(jax.tree.map(jnp.copy, small), empty)
    assert np.asarray(grown.sentence).tolist() == [7, 5, -1, -1]
    np.testing.assert_array_equal(grown.ctx[:2], small.ctx)
    np.testing.assert_array_equal(grown.ctx[2:], empty.ctx[2:])
    cpu = {1: 0.84, 2: 1.11, 4: 1.6, 8: 2.81, 12: 3.9, 16: 4.95, 24: 7.15, 32: 9.49, 48: 14.4, 64: 19.2}
    assert lane_cap(cpu) == 24  # the widest step within 8 ms
    assert lane_cap({lane: 1.0 + lane / 64 for lane in cpu}) == 64  # a step that costs little more when wider
    assert lane_cap({lane: 8.0 + lane / 16 for lane in cpu}) == 64  # ... even when every step is over the budget
    assert lane_cap({lane: 7.0 * lane for lane in cpu}) == 2  # within twice the narrowest step
    assert default_lanes(64) == (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)
    assert default_lanes(1) == (1,) and default_lanes(10) == (1, 2, 3, 4, 6, 8, 10)


def test_after_warm_the_live_queue_compiles_nothing(tiny_run):
    """A server warms up once: sentences that come and go (through every lane, with cancellations) run only
    programs that `warm` compiled."""
    from nmt.decode import live as live_lib
    from nmt.decode import queue_rows
    from nmt.decode.lanes import resize
    from nmt.run import load_run
    from nmt.run.translation import translator_for

    translator = translator_for(load_run(tiny_run), BeamConfig(beam=3), nbest=1, slots=4)
    translator.warm()
    live = translator._stream().live
    assert sorted(live.ms_per_step) == list(live.lanes) and live.cap in live.lanes  # measured in warm
    assert live.unread == set() and live.busy_slots() == 0 and live.lane == 1  # its stand-ins gone
    live.cap = live.slots  # so that the sentences below go through every lane
    names = ("take", "evict", "write", "flags", "encode_into")
    programs = (live_lib._chunk, resize, *(getattr(queue_rows, n) for n in names))
    programs += (beam_decode,)
    before = [p._cache_size() for p in programs]
    rng = np.random.default_rng(0)
    words = ["the", "cat", "sees", "a", "dog", "man", "eats", "big", "tree", "red", "car"]
    for _ in range(40):
        for _ in range(rng.integers(0, 3)):
            ticket = translator.submit(
                [" ".join(rng.choice(words, rng.integers(1, 9))) for _ in range(rng.integers(1, 7))]
            )
            if rng.random() < 0.2:
                translator.collect(1)
                translator.cancel(ticket)
        translator.collect(2)
    while not translator.idle():
        translator.collect(4)
    assert [p._cache_size() for p in programs] == before


def test_a_sentence_that_finds_the_search_idle_is_searched_alone_at_batch_1(tiny_run):
    from nmt.run import load_run
    from nmt.run.translation import translator_for

    run = load_run(tiny_run)
    translator = translator_for(run, BeamConfig(beam=3), nbest=2, slots=4)
    alone = translator_for(run, BeamConfig(beam=3), nbest=2)
    live = translator._stream().live
    lone = translator.submit(["the cat sees a dog"])
    assert translator.collect(1) == {lone: alone.translate(["the cat sees a dog"])}
    assert live.count == 0  # never written into the live queue
    pair = translator.submit(["a man eats", "red car drives fast"])  # two: the live queue
    done = {}
    while not translator.idle():
        done.update(translator.collect(2))
    assert live.count == 2 and done == {pair: alone.translate(["a man eats", "red car drives fast"])}
