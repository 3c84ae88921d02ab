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

import jax
import jax.numpy as jnp
import numpy as np

from nmt.data.batching import pad_rows
from nmt.data.vocab import EOS
from nmt.decode.beam import BeamConfig
from nmt.decode.continuous import QueueState
from nmt.decode.search import _encode, queue_search
from nmt.model import EncoderOutput, Seq2Seq


@functools.partial(jax.jit, donate_argnames=("buffer",))
def _write(buffer, rows, positions: jax.Array):
    """`rows` (leaves [n, ...]) written into `buffer` (leaves [Q, ...]) at `positions` [n] (-1: not written)."""
    q = jax.tree.leaves(buffer)[0].shape[0]
    at = jnp.where(positions < 0, q, positions)
    return jax.tree.map(lambda b, r: b.at[at].set(r.astype(b.dtype), mode="drop"), buffer, rows)


@functools.partial(jax.jit, static_argnames=("model", "cfg", "max_len", "slots"), donate_argnames=("state",))
def _chunk(
    model: Seq2Seq,
    params,
    state: QueueState,
    memory: EncoderOutput,
    ids,
    count,
    steps,
    projected,
    *,
    cfg: BeamConfig,
    max_len: int,
    slots: int,
) -> QueueState:
    """Up to `steps` decoder steps of the queue search from `state`, idle slots first given waiting rows."""
    search = queue_search(model, params, memory, count, ids, projected, cfg, max_len, slots, limit=steps)
    state = search.admit(
        state.replace(steps=jnp.zeros_like(state.steps), busy=jnp.zeros_like(state.busy)), state.sentence < 0
    )
    return jax.lax.while_loop(search.cond, search.body, state)


@functools.partial(jax.jit, donate_argnames=("state",))
def _take(state: QueueState, rows: jax.Array):
    """The results of `rows` [n] (-1: none), and the state with their done flags cleared."""
    at = jnp.maximum(rows, 0)
    out = state.tokens[at], state.scores[at], state.logp[at]
    q = state.done.shape[0]
    return out, state.replace(done=state.done.at[jnp.where(rows < 0, q, rows)].set(False, mode="drop"))


@functools.partial(jax.jit, donate_argnames=("state",))
def _evict(state: QueueState, sentences: jax.Array) -> QueueState:
    """The slots holding any of `sentences` [n] (-1: none) made free, their searches dropped."""
    hit = jnp.any(state.sentence[:, None] == jnp.where(sentences < 0, -2, sentences)[None, :], axis=1)
    return state.replace(sentence=jnp.where(hit, -1, state.sentence))


class LiveQueue:
    """The device side of a live continuous-batching search over one model.

    capacity: Q, the queue rows (sentences that are searched or waiting on the device); src_len: every source's
    padded length (the largest bucket; longer sources are cut to it); projected, source: the projections the
    Translator made; lister: a `Shortlister`, or None for the whole vocabulary.
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
    ):
        if capacity < slots:
            raise ValueError(f"a live queue of {capacity} rows cannot feed {slots} slots")
        self.model, self.params, self.cfg, self.slots = model, params, cfg, slots
        self.capacity, self.src_len, self.max_len = capacity, src_len, max_len
        self.projected, self.source, self.lister = projected, source, lister
        empty_src = np.zeros((1, src_len), np.int32)
        row = jax.eval_shape(lambda s: _encode(model, params, s, source), empty_src)
        # committed to the device and strongly typed, as the programs return them: so the first call of each
        # program and the later ones are the same program (uncommitted or weakly typed arguments recompile)
        here = jax.local_devices()[0]
        self.memory = jax.device_put(jax.tree.map(lambda x: jnp.zeros((capacity,) + x.shape[1:], x.dtype), row), here)
        self.ids = None if lister is None else jax.device_put(jnp.zeros((capacity, lister.size), jnp.int32), here)
        search = queue_search(model, params, self.memory, 0, self.ids, projected, cfg, max_len, slots)
        empty = jax.jit(lambda: jax.tree.map(lambda x: jnp.asarray(x, x.dtype), search.empty))()
        self.state = jax.device_put(empty, here)
        self.count = 0  # sentences written so far; sentence n lives in row n % capacity
        self.unread: set[int] = set()  # sentences written and not yet read back

    def warm(self) -> None:
        """Compiles every program the queue can run (each power-of-two width it writes, reads or evicts), changing
        nothing: a server calls it before it reports ready."""
        width = 1
        while width <= self.capacity:
            src = np.full((width, self.src_len), 0, np.int32)
            src[:, 0] = EOS
            nowhere = np.full((width,), -1, np.int32)
            self.memory = _write(self.memory, _encode(self.model, self.params, src, self.source), nowhere)
            if self.lister is not None:
                self.ids = _write(self.ids, self.lister.lists(src), nowhere)
            _, self.state = _take(self.state, nowhere)
            if width <= self.slots:
                self.state = _evict(self.state, nowhere)
            width *= 2
        self.state = _chunk(
            self.model,
            self.params,
            self.state,
            self.memory,
            self.ids,
            self.count,
            0,
            self.projected,
            cfg=self.cfg,
            max_len=self.max_len,
            slots=self.slots,
        )
        jax.block_until_ready(self.state)

    def room(self) -> int:
        """How many sentences can be written now: rows whose sentence is neither waiting, searched nor unread."""
        oldest = min(self.unread, default=self.count)
        return self.capacity - (self.count - oldest)

    def write(self, sources: list[list[int]]) -> list[int]:
        """Encodes sources (token ids without EOS; at most `room()`) into the queue; returns their sentence numbers."""
        n = len(sources)
        if n > self.room():
            raise ValueError(f"{n} sentences, room for {self.room()}")
        rows = [list(x[: self.src_len - 1]) + [EOS] for x in sources]
        width = 1 << max(0, (n - 1).bit_length())  # a power of two of rows: few programs
        src = pad_rows(rows, self.src_len, width)
        numbers = list(range(self.count, self.count + n))
        positions = np.full((width,), -1, np.int32)
        positions[:n] = [k % self.capacity for k in numbers]
        self.memory = _write(self.memory, _encode(self.model, self.params, src, self.source), positions)
        if self.lister is not None:
            self.ids = _write(self.ids, self.lister.lists(src), positions)
        self.count += n
        self.unread.update(numbers)
        return numbers

    def run(self, steps: int) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Runs up to `steps` decoder steps; returns {sentence: (tokens [K, L], scores [K], logp [K])} of the
        sentences that finished in them."""
        self.state = _chunk(
            self.model,
            self.params,
            self.state,
            self.memory,
            self.ids,
            self.count,
            steps,
            self.projected,
            cfg=self.cfg,
            max_len=self.max_len,
            slots=self.slots,
        )
        done = np.flatnonzero(np.asarray(self.state.done))
        if not len(done):
            return {}
        rows = np.full((1 << max(0, (len(done) - 1).bit_length()),), -1, np.int32)
        rows[: len(done)] = done
        (tokens, scores, logp), self.state = _take(self.state, rows)
        tokens, scores, logp = jax.device_get((tokens, scores, logp))
        by_row = {number % self.capacity: number for number in self.unread}
        out = {}
        for i, row in enumerate(done):
            number = by_row[int(row)]
            out[number] = (tokens[i], scores[i], logp[i])
            self.unread.discard(number)
        return out

    def drop(self, numbers: list[int]) -> set[int]:
        """Frees the slots of these sentences (a client that went away): the ones being searched are dropped now and
        never finish (returned); those still waiting are searched when their turn comes (the caller discards what
        they give)."""
        searched = set(np.asarray(self.state.sentence).tolist()) & set(numbers)
        if searched:
            sentences = np.full((1 << max(0, (len(searched) - 1).bit_length()),), -1, np.int32)
            sentences[: len(searched)] = sorted(searched)
            self.state = _evict(self.state, sentences)
            self.unread -= searched
        return searched

    def busy_slots(self) -> int:
        return int(np.sum(np.asarray(self.state.sentence) >= 0))

    def waiting(self) -> int:
        """Sentences written and not yet given a slot."""
        return self.count - int(self.state.next)
