"""Continuous batching for sentences that arrive while the search runs: the queue search of `nmt.decode.continuous`
run in compiled chunks of a few decoder steps, its state kept on the device between chunks, and its queue refilled
by the host between them.

Between two chunks the host writes newly arrived sentences (encoded, one padded length for all) into free rows of a
ring of Q queue rows and reads the rows whose sentences finished; inside a chunk a slot that frees takes the next
waiting row at once, as in the one-run queue search. So a sentence waits at most one chunk before it is in the queue,
and no longer than its turn for a slot. Each slot's step is the same `beam.advance` as every other search's, so a
sentence gets the translation it gets alone.
"""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

from nmt.data.batching import bucket_of, pad_rows
from nmt.data.vocab import EOS
from nmt.decode import queue_rows
from nmt.decode.beam import BeamConfig
from nmt.decode.continuous import QueueState
from nmt.decode.lanes import default_lanes, lane_cap, pick_lane, resize
from nmt.decode.search import _encode, queue_search
from nmt.model import EncoderOutput, Seq2Seq

WRITE_ROWS = 64  # sentences encoded in one call at most: bounds the programs that warm-up compiles


@functools.partial(jax.jit, static_argnames=("model", "cfg", "max_len", "slots"), donate_argnames=("state",))
def _chunk(
    model: Seq2Seq,
    params,
    state: QueueState,
    memory: EncoderOutput,
    ids,
    count,
    steps,
    floor,
    projected,
    *,
    cfg: BeamConfig,
    max_len: int,
    slots: int,
) -> QueueState:
    """Up to `steps` decoder steps of the queue search from `state`, idle slots first given waiting rows; fewer once
    at most `floor` sentences are searched or waiting (-1: never)."""
    search = queue_search(model, params, memory, count, ids, projected, cfg, max_len, slots, steps, floor)
    state = search.admit(
        state.replace(steps=jnp.zeros_like(state.steps), busy=jnp.zeros_like(state.busy)), state.sentence < 0
    )
    return jax.lax.while_loop(search.cond, search.body, state)


class LiveQueue:
    """The device side of a live continuous-batching search over one model.

    capacity: Q, the queue rows (sentences that are searched or waiting on the device); src_len: the queue's source
    length (the largest bucket; longer sources are cut to it); buckets: the lengths sources are encoded at (each
    sentence at the smallest that holds it, then padded to src_len; default: src_len alone); projected, source: the
    projections the Translator made; lister: a `Shortlister`, or None for the whole vocabulary.

    lanes: the slot counts it searches with (default: `default_lanes(slots)`). A step costs about as much as its
    slots hold rows, busy or not (on a CPU in proportion to them), so before each chunk the queue moves to the
    smallest lane that holds every sentence in it, up to `cap` (`nmt.decode.lanes`): one sentence alone is searched
    in one slot, at the cost of a batch-1 search, and more than `cap` wait for a slot of the `cap`. `cap`: None
    measures it in `warm` (`lane_cap` of each lane's step time; `slots` until then). overlap: `run` leaves each
    chunk running and returns the results of the one before it, so the host's work between chunks overlaps the
    device's (False: each chunk is waited for, the device idle while the host works). lazy: the host holds arrivals
    back while at least `cap` sentences wait on the device for a slot (`wanted`), so that they are encoded together
    in fewer, wider calls when the device runs low (False: written as soon as there is room). early_shrink: a chunk
    ends as soon as the next narrower lane holds its sentences, so that the next one runs there and arrivals join
    sooner (False: it runs all its steps).
    """

    def __init__(
        self,
        model: Seq2Seq,
        params,
        cfg: BeamConfig,
        slots: int,
        capacity: int,
        src_len: int,
        max_len: int,
        projected,
        source,
        lister=None,
        lanes: tuple[int, ...] | None = None,
        buckets: tuple[int, ...] | None = None,
        cap: int | None = None,
        overlap: bool = False,
        lazy: bool = False,
        early_shrink: bool = True,
    ):
        lanes = tuple(sorted(set(lanes or default_lanes(slots))))
        if lanes[0] < 1 or lanes[-1] != slots:
            raise ValueError(f"lanes {lanes} must be >= 1 and end with the {slots} slots")
        if capacity < slots:
            raise ValueError(f"a live queue of {capacity} rows cannot feed {slots} slots")
        self.model, self.params, self.cfg, self.slots = model, params, cfg, slots
        self.capacity, self.src_len, self.max_len = capacity, src_len, max_len
        self.buckets = tuple(sorted({b for b in buckets or () if b < src_len} | {src_len}))
        self.write_rows = min(capacity, WRITE_ROWS)
        self.projected, self.source, self.lister = projected, source, lister
        empty_src = np.zeros((1, src_len), np.int32)
        row = jax.eval_shape(lambda s: _encode(model, params, s, source), empty_src)
        # committed to the device and strongly typed, as the programs return them: so the first call of each
        # program and the later ones are the same program (uncommitted or weakly typed arguments recompile)
        here = jax.local_devices()[0]
        self.memory = jax.device_put(jax.tree.map(lambda x: jnp.zeros((capacity,) + x.shape[1:], x.dtype), row), here)
        self.ids = None if lister is None else jax.device_put(jnp.zeros((capacity, lister.size), jnp.int32), here)
        self.lanes, self.empty = lanes, {}
        for lane in lanes:
            search = queue_search(model, params, self.memory, 0, self.ids, projected, cfg, max_len, lane)
            empty = jax.jit(lambda s=search: jax.tree.map(lambda x: jnp.asarray(x, x.dtype), s.empty))()
            self.empty[lane] = jax.device_put(empty, here)
        self.lane, self.cap, self.measure = lanes[0], cap or slots, cap is None
        self.ms_per_step: dict[int, float] = {}  # each lane's measured decoder step (`calibrate`)
        self.busy = 0  # slots that held a sentence after the last chunk
        self.state = jax.tree.map(jnp.copy, self.empty[self.lane])
        self.count = 0  # sentences written so far; sentence n lives in row n % capacity
        self.unread: set[int] = set()  # sentences written and not yet read back
        self.overlap, self.lazy, self.early_shrink = overlap, lazy, early_shrink
        self.encoder_calls = self.chunks = 0  # encoder programs and chunks run so far, warm-up's included
        self._flags = None  # the last chunk's (done flags, slot sentences) on the device, until `run` reads them

    def warm(self) -> None:
        """Compiles every program the queue can run (each power-of-two width it writes, reads or evicts, each lane's
        chunk, each move between two lanes) and, unless a cap was given, measures the cap (`calibrate`); no sentence
        written before or after sees a difference. A server calls it before it reports ready."""
        width = 1
        while width <= self.capacity:
            nowhere = np.full((width,), -1, np.int32)
            for bucket in self.buckets if width <= self.write_rows else ():
                src = np.full((width, bucket), 0, np.int32)
                src[:, 0] = EOS
                self._encode(src, nowhere)
            self._read(nowhere)
            width *= 2
        first = self.lane
        for lane in self.lanes:  # each move between two neighbouring lanes, both ways, then the lane's own programs
            self._move(lane)
            width = 1
            while width < 2 * lane:  # up to the power of two that holds every slot of the lane
                self.state = queue_rows.evict(self.state, np.full((width,), -1, np.int32))
                width *= 2
            self._chunk(0)
        self._move(first)
        jax.block_until_ready(self.state)
        if self.measure:
            self.calibrate()

    def calibrate(self, steps: int = 8, rounds: int = 5) -> int:
        """Times `steps` decoder steps of each lane full of stand-in sentences, the lanes in turn for `rounds`
        rounds (the fastest of each lane's: a busy machine only slows a step), sets the cap to `lane_cap` of those
        times and returns it. The stand-ins are dropped; call it with the queue idle."""
        if self.unread:
            raise RuntimeError("calibrate needs an idle queue")
        stand_in = [EOS + 1] * (self.buckets[0] - 1)
        self.cap, times = self.slots, {lane: [] for lane in self.lanes}
        for _ in range(rounds):
            for lane in self.lanes:
                numbers = self.write([stand_in] * lane)
                self.run(0)  # into the lane, its slots given the stand-ins
                jax.block_until_ready(self.state)
                start = time.perf_counter()
                self._chunk(steps)
                ran = int(self.state.steps)  # the chunk's steps (stand-ins may finish early); waits for the chunk
                times[lane].append((time.perf_counter() - start) * 1e3 / max(ran, 1))
                self.run(0)  # reads back any that finished
                self.drop(numbers)
        self.ms_per_step = {lane: min(t) for lane, t in times.items()}
        self.cap = lane_cap(self.ms_per_step)
        self._move(self.lanes[0])
        return self.cap

    def _move(self, lane: int) -> None:
        """Into `lane` through every lane between (so the programs are the moves between neighbours)."""
        while lane != self.lane:
            at = self.lanes.index(self.lane)
            step = self.lanes[at + 1] if lane > self.lane else self.lanes[at - 1]
            self.state, self.lane = resize(self.state, self.empty[step]), step

    def _chunk(self, steps: int, floor: int = -1) -> None:
        self.chunks += 1
        args = (self.model, self.params, self.state, self.memory, self.ids, self.count, steps, floor, self.projected)
        self.state = _chunk(*args, cfg=self.cfg, max_len=self.max_len, slots=self.lane)
        self._flags = queue_rows.flags(self.state)

    def _read(self, rows: np.ndarray):
        """The results of queue rows (-1: none), their done flags cleared."""
        st = self.state
        out, done = queue_rows.take(st.tokens, st.scores, st.logp, st.done, rows)
        self.state = st.replace(done=done)
        return out

    def room(self) -> int:
        """How many sentences can be written now: rows whose sentence is neither waiting, searched nor unread."""
        return self.capacity - (self.count - min(self.unread, default=self.count))

    def wanted(self, waiting: int) -> int:
        """How many of `waiting` sentences held by the host to write now: all there is room for, or with `lazy` none
        while at least `cap` wait on the device for a slot (`unread` less `busy` between chunks; with `overlap` a chunk
        old). A chunk frees about a lane's slots at most, so a slot that frees still finds one, and under a backlog
        the arrivals are encoded in wide calls (an encoder call costs about 0.5 ms plus its rows on a CPU)."""
        if self.lazy and len(self.unread) - self.busy >= self.cap:
            return 0
        return min(self.room(), waiting)

    def _encode(self, src: np.ndarray, positions: np.ndarray) -> None:
        self.encoder_calls += 1
        self.memory = queue_rows.encode_into(self.model, self.params, self.memory, src, self.source, positions)
        if self.lister is not None:
            self.ids = queue_rows.write(self.ids, self.lister.lists(src), positions)

    def write(self, sources: list[list[int]]) -> list[int]:
        """Encodes sources (token ids without EOS; at most `room()`) into the queue; returns their sentence numbers."""
        n = len(sources)
        if n > self.room():
            raise ValueError(f"{n} sentences, room for {self.room()}")
        rows = [list(x[: self.src_len - 1]) + [EOS] for x in sources]
        numbers = list(range(self.count, self.count + n))
        by_bucket: dict[int, list[int]] = {}
        for i, row in enumerate(rows):
            by_bucket.setdefault(bucket_of(len(row), self.buckets), []).append(i)  # rows are cut to the last
        for bucket, members in by_bucket.items():
            for k in range(0, len(members), self.write_rows):
                part = members[k : k + self.write_rows]
                width = 1 << max(0, (len(part) - 1).bit_length())  # a power of two of rows: few programs
                positions = np.full((width,), -1, np.int32)
                positions[: len(part)] = [numbers[i] % self.capacity for i in part]
                self._encode(pad_rows([rows[i] for i in part], bucket, width), positions)
        self.count += n
        self.unread.update(numbers)
        return numbers

    def run(self, steps: int) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Runs up to `steps` decoder steps in the smallest lane that holds every sentence written and not yet
        read back, at most the cap unless more slots are busy (`pick_lane`); returns {sentence: (tokens [K, L],
        scores [K], logp [K])} of the sentences that finished.

        With `overlap` the chunk is left running when this returns, and the sentences returned are those that
        finished in the chunk before it: the host reads them back, completes requests and writes new sentences while
        the device searches, instead of the device waiting for the host between two chunks."""
        finished = self._finished() if self.overlap else None  # waits for the chunk in flight: none runs in a move
        self._move(pick_lane(self.lanes, len(self.unread), self.busy, self.cap))
        at = self.lanes.index(self.lane)
        self._chunk(steps, self.lanes[at - 1] if self.early_shrink and at else -1)
        if not self.overlap:
            finished = self._finished()
        if finished is None:
            return {}
        numbers, results = finished
        tokens, scores, logp = jax.device_get(results)
        return {number: (tokens[i], scores[i], logp[i]) for i, number in enumerate(numbers)}

    def _finished(self):
        """Waits for the last chunk, sets `busy`, and starts reading back its finished sentences: (their numbers,
        their results on the device), or None when none finished."""
        if self._flags is None:
            return None
        done, sentence = jax.device_get(self._flags)
        self._flags = None
        self.busy = int(np.sum(sentence >= 0))
        done = np.flatnonzero(done)
        if not len(done):
            return None
        rows = np.full((1 << max(0, (len(done) - 1).bit_length()),), -1, np.int32)
        rows[: len(done)] = done
        by_row = {number % self.capacity: number for number in self.unread}
        numbers = [by_row[int(row)] for row in done]
        self.unread.difference_update(numbers)
        return numbers, self._read(rows)

    def drop(self, numbers: list[int]) -> set[int]:
        """Frees the slots of these sentences (a client that went away): the ones being searched are dropped now and
        never finish (returned); those still waiting are searched when their turn comes (the caller discards what
        they give)."""
        slots = np.asarray(self.state.sentence)  # waits for a chunk in flight
        searched = set(slots.tolist()) & set(numbers)
        self.busy = int(np.sum(slots >= 0)) - len(searched)
        if searched:
            sentences = np.full((1 << max(0, (len(searched) - 1).bit_length()),), -1, np.int32)
            sentences[: len(searched)] = sorted(searched)
            self.state = queue_rows.evict(self.state, sentences)
            self.unread -= searched
            if self._flags is not None:
                self._flags = queue_rows.flags(self.state)
        return searched

    def busy_slots(self) -> int:
        """Slots that hold a sentence, read from the device (`busy` keeps the same count on the host)."""
        return int(np.sum(np.asarray(self.state.sentence) >= 0))
