import numpy as np
import pytest

from nmt.decode import BeamConfig

WORDS = ["the", "cat", "sees", "a", "dog", "man", "eats", "big", "tree", "red", "car", "house", "green", "apple"]
RNG = np.random.default_rng(3)
LINES = [" ".join(RNG.choice(WORDS, RNG.integers(1, 9))) for _ in range(12)]  # sources of 1 to 8 words


def _serve(translator, arrivals: dict[int, list[str]]):
    """Submits arrivals[i] before the i-th chunk of one step; returns (translations by ticket, lines by ticket,
    encoder calls, one (device waiting, host waiting, written) record per chunk)."""
    stream = translator._stream()
    live = stream.live
    calls, encode = [], live._encode
    live._encode = lambda src, positions: calls.append(len(src)) or encode(src, positions)
    done, lines, records, i = {}, {}, [], 0
    while i <= max(arrivals) or not translator.idle():
        if i in arrivals:
            lines[translator.submit(arrivals[i])] = arrivals[i]
        device, host, count = len(live.unread) - live.busy, len(stream.waiting), live.count
        done.update(translator.collect(1))
        records.append((device, host, live.count - count))
        i += 1
    return done, lines, calls, records


@pytest.mark.parametrize("overlap", [False, True])
def test_lazy_writes_hold_arrivals_while_the_device_has_enough_and_change_no_translation(tiny_run, overlap):
    """With lazy writes (nmt.decode.live.LiveQueue.wanted) the host writes nothing while at least the cap's worth of
    sentences wait on the device, writes everything held once fewer do, encodes the same arrivals in fewer encoder
    calls than eager writes, and every sentence gets the translation it gets alone."""
    from nmt.run import load_run
    from nmt.run.translation import translator_for

    run = load_run(tiny_run)
    alone = translator_for(run, BeamConfig(beam=3), nbest=1)
    arrivals = {0: LINES[:8], 1: LINES[8:9], 2: LINES[9:10], 3: LINES[10:11], 4: LINES[11:]}
    calls = {}
    for lazy in (False, True):
        translator = translator_for(run, BeamConfig(beam=3), nbest=1, slots=4)
        translator.solo, translator.overlap, translator.lazy_writes = False, overlap, lazy
        translator._stream().live.cap = 2
        done, lines, calls[lazy], records = _serve(translator, arrivals)
        assert {t: done[t] for t in lines} == {t: alone.translate(x) for t, x in lines.items()}
        if lazy:
            for device, host, written in records:
                assert (written == host) if device < 2 else (written == 0), records
            assert any(host and not written for _, host, written in records), records  # held back at least once
    assert len(calls[True]) < len(calls[False]), calls
