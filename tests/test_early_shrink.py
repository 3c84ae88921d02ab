import numpy as np

from nmt.decode import BeamConfig
from tests.test_lazy_writes import LINES


def _chunks(translator, lines: list[str], steps: int) -> tuple[dict, list[tuple[int, int, int]]]:
    """Submits every line at once and collects chunks of up to `steps` steps until all are done: (translations by
    line, one (lane, steps run, sentences searched or waiting after it) record per chunk)."""
    live = translator._stream().live
    tickets = {translator.submit([line]): line for line in lines}
    done, records = {}, []
    while not translator.idle():
        done.update(translator.collect(steps))
        st = live.state
        held = int(np.sum(np.asarray(st.sentence) >= 0)) + live.count - int(st.next)
        records.append((live.lane, int(st.steps), held))
    return {tickets[t]: translation for t, translation in done.items()}, records


def test_early_shrink_ends_a_chunk_once_a_narrower_lane_holds_its_sentences(tiny_run):
    """Nine sentences in 4 slots. Without it a chunk of 100 steps searches them all to their end in the lane of 4;
    with it each chunk ends after the first step after which the next narrower lane holds what is left (searched or
    waiting: the step-by-step search says which), the next chunk runs in the narrowest lane that holds them, and every
    sentence gets the translation it gets alone."""
    from nmt.run import load_run
    from nmt.run.translation import translator_for

    run = load_run(tiny_run)
    alone = translator_for(run, BeamConfig(beam=3), nbest=1)
    lines = LINES[:9]
    want = {line: alone.translate([line]) for line in lines}
    records = {}
    for shrink, steps in ((False, 100), (False, 1), (True, 100)):
        translator = translator_for(run, BeamConfig(beam=3), nbest=1, slots=4)
        translator.solo, translator.early_shrink = False, shrink
        got, records[shrink, steps] = _chunks(translator, lines, steps)
        assert got == want
    lanes = translator._stream().live.lanes
    assert [(lane, held) for lane, _, held in records[False, 100]] == [(4, 0)], records
    held_after = [held for _, _, held in records[False, 1]]  # after each step
    chunks, at = records[True, 100], 0
    assert len(chunks) > 1 and chunks[-1][2] == 0, chunks
    for (lane, steps, held), after in zip(chunks, chunks[1:] + [None]):
        narrower = lanes[lanes.index(lane) - 1] if lane > lanes[0] else 0
        at += steps
        assert held == held_after[at - 1] and 1 <= steps, chunks
        assert held <= narrower and all(h > narrower for h in held_after[at - steps : at - 1]), (chunks, held_after)
        if after is not None:
            assert after[0] == min(x for x in lanes if x >= held), chunks
