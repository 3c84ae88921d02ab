"""The host side of translation: one object that holds a model with its parameters (or an ensemble of them) and a
search configuration, owns what the compiled searches read (the projections made once per parameters, the shortlist)
and answers sentences. `nmt.translate`, `nmt.evaluate`, validation during training, distillation and the notebooks
all translate through it.

    translator = Translator([(model, params)], sp, config.data, BeamConfig(beam=5), nbest=1, slots=64)
    translator.translate(["A man rides a bike."])[0].text

Sentences that arrive over time go through `submit` and `collect` (and `cancel`): with slots they join the search
while it runs, in compiled chunks of a few decoder steps (`nmt.decode.live`).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from sentencepiece import SentencePieceProcessor

from nmt.config import DataConfig
from nmt.data.batching import Examples, bucket_of, eval_batches, make_batch
from nmt.decode.beam import BeamConfig
from nmt.decode.ensemble import ensemble_beam_decode
from nmt.decode.hypotheses import search_batches, strip
from nmt.decode.live import LiveQueue
from nmt.decode.scoring import score_outputs
from nmt.decode.search import (
    beam_decode,
    embedding_projection,
    greedy_decode,
    max_output_len,
    queue_translate,
    source_projection,
)
from nmt.decode.shortlist import Shortlister
from nmt.decode.stream import Stream
from nmt.model import Seq2Seq
from nmt.utils import listing

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Hypothesis:
    text: str
    score: float  # the search's score, log P / lp(length) + cp(coverage); 0 for an empty source
    tokens: int = 0  # its length in target tokens, the end of sentence left out


@dataclasses.dataclass(frozen=True)
class Scored:
    """A given target's teacher-forced score under the model, with the search's penalties."""

    score: float  # log P / lp(length) + cp(coverage), what the search would give this output
    logp: float  # log P, the sum of token_logp
    token_logp: tuple[float, ...]  # each target token's log-probability, the end of sentence last


@dataclasses.dataclass(frozen=True)
class Translation:
    hypotheses: tuple[Hypothesis, ...]  # best first, as many as asked (`nbest`)
    truncated: bool = False  # the source was longer than the model's limit, and cut to it

    @property
    def text(self) -> str:
        return self.hypotheses[0].text


class Translator:
    """models: [(Seq2Seq, params)], one model or an ensemble of one vocabulary (searched as one: no shortlist, no
    slots); sp: their vocabulary; data: the run's data settings (length limit, buckets, tokens a batch); cfg: the
    search (beam 1 is greedy search); nbest: hypotheses a sentence; shortlister: per-sentence output vocabularies,
    or None; slots: beam search with continuous batching over this many sentences (None: fixed batches); unroll: the
    time steps a loop iteration of the recurrent scans that translating runs (the encoder's; scoring's decoder too),
    `lax.scan`'s unroll, in place of the run's `model.unroll` (None: the run's). The same numbers up to float rounding
    (tests/test_translate.py); what it saves, experiments/encoder_unroll.py measures."""

    def __init__(
        self,
        models: Sequence[tuple[Seq2Seq, Any]],
        sp: SentencePieceProcessor,
        data: DataConfig,
        cfg: BeamConfig = BeamConfig(beam=5),
        nbest: int = 1,
        shortlister: Shortlister | None = None,
        slots: int | None = None,
        unroll: int | None = None,
    ):
        if unroll is not None:
            if unroll < 1:
                raise ValueError(f"unroll must be >= 1, got {unroll}")
            models = [(m.clone(cfg=dataclasses.replace(m.cfg, unroll=unroll)), p) for m, p in models]
        if len(models) > 1 and (shortlister is not None or slots):
            raise ValueError("an ensemble searches in fixed batches over the whole vocabulary")
        self.models, self.sp = tuple(models), sp
        self.cfg = dataclasses.replace(cfg, nbest=nbest)
        self.limit = data.max_len - 1  # EOS takes the last place
        self.buckets, self.batch_tokens = data.search_buckets(), data.batch_tokens
        self.shortlister, self.slots = shortlister, slots if cfg.beam > 1 else None
        model, params = self.models[0]
        self.projected = embedding_projection(model, params) if len(models) == 1 else None
        self.source = source_projection(model, params) if self.slots and len(models) == 1 else None
        self.queue_rows = 4 * (self.slots or 0)  # the live queue's rows: a sentence being searched or waiting in each
        self.lanes: tuple[int, ...] | None = None  # the live queue's slot counts (None: nmt.decode.lanes's default)
        self.lane_cap: int | None = None  # the most it uses while sentences wait (None: measured in warm)
        # a sentence that finds the live search idle is searched by itself in the batch-1 program of its bucket,
        # so that one request at a time costs what the batch-1 search costs
        self.solo = True
        self.overlap = False  # whether the host's work between two chunks of the live search overlaps the next one
        self.lazy_writes = False  # whether the host holds arrivals back while the live queue has enough waiting
        self.early_shrink = True  # whether a chunk ends once the next narrower lane holds its sentences
        self._live: Stream | None = None

    @property
    def nbest(self) -> int:
        return self.cfg.nbest

    def replica(self) -> Translator:
        """The same models and settings with a live search of its own, for another thread to drive (`nmt.serve`)."""
        twin = copy.copy(self)
        twin._live = None
        return twin

    def encode(self, lines: list[str]) -> tuple[list[list[int]], list[bool]]:
        """Token ids of non-empty lines, each cut to the model's limit, and whether it was."""
        ids = self.sp.encode(lines)
        return [x[: self.limit] for x in ids], [len(x) > self.limit for x in ids]

    def translate(self, lines: list[str], report: bool = True) -> list[Translation]:
        """Translations of lines in their order; an empty line gives empty hypotheses, an over-long one is cut to
        the model's limit (`truncated` in its translation, and with `report` logged with its line number)."""
        todo = [i for i, line in enumerate(lines) if line]
        ids, cut = self.encode([lines[i] for i in todo])
        if any(cut) and report:
            self.warn_truncated([todo[j] + 1 for j, c in enumerate(cut) if c])
        empty = Translation((Hypothesis("", 0.0),) * self.nbest)
        out = [empty] * len(lines)
        for j, hyps in enumerate(self.search(ids)):
            out[todo[j]] = Translation(hyps, cut[j])
        return out

    def warn_truncated(self, numbers: list[int]) -> None:
        """Logs the (1-based) line numbers of sources cut to the model's limit."""
        logger.warning(
            f"warning: {len(numbers)} lines longer than {self.limit} subword tokens were truncated: {listing(numbers)}"
        )

    def search(self, ids: list[list[int]]) -> list[tuple[Hypothesis, ...]]:
        """The n-best of sources given as token ids (no EOS; a source longer than the largest bucket is cut to it),
        in their order."""
        if not ids:
            return []
        if self.slots:
            found, _ = queue_translate(
                *self.models[0], ids, self.buckets, self.cfg, self.slots, self.shortlister, self.projected, self.source
            )
        else:
            examples = Examples(ids, [[] for _ in ids], np.arange(len(ids)))
            found = search_batches(examples, self.buckets, self.batch_tokens, self._search_batch)
        return [self._hypotheses(tokens, scores) for tokens, scores in found]

    def _hypotheses(self, tokens: np.ndarray, scores: np.ndarray) -> tuple[Hypothesis, ...]:
        """The n-best of one sentence from the search's tokens [K, L] and scores [K]."""
        ids = [strip(tokens[j]) for j in range(self.nbest)]
        return tuple(Hypothesis(self.sp.decode(x), float(scores[j]), len(x)) for j, x in enumerate(ids))

    def _alone(self, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """One source (token ids, no EOS) searched by itself at batch 1: (tokens [K, L], scores [K])."""
        bucket = bucket_of(len(ids) + 1, self.buckets) or self.buckets[-1]
        src = make_batch(Examples([ids], [[]], np.arange(1)), np.arange(1), bucket, 1)["src"]
        tokens, scores = self._search_batch(src)
        return tokens[0], scores[0]

    def _search_batch(self, src: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One fixed batch: src [B, S] -> (tokens [B, K, L], scores [B, K])."""
        max_len = max_output_len(src.shape[1], self.cfg)
        if len(self.models) > 1:
            models, params = zip(*self.models)
            res = jax.device_get(ensemble_beam_decode(models, params, src, self.cfg, max_len))
            return res["tokens"], res["scores"]
        model, params = self.models[0]
        shortlist = None if self.shortlister is None else self.shortlister(src)
        if self.cfg.beam == 1:
            tokens = np.asarray(greedy_decode(model, params, src, self.cfg, max_len, shortlist, self.projected))
            return tokens[:, None], np.zeros(tokens.shape[:1] + (1,))
        res = jax.device_get(
            beam_decode(model, params, src, self.cfg, max_len, shortlist=shortlist, projected=self.projected)
        )
        return res["tokens"], res["scores"]

    def score(self, sources: list[str], targets: list[str]) -> list[Scored]:
        """Teacher-forced scores of given targets (`Scored`), one per (source, target) pair, in order; each side cut
        to the model's limit as `translate` cuts sources. With a shortlist the probabilities are normalised over the
        source's shortlist, as the search normalises them."""
        if len(self.models) > 1:
            raise ValueError("scoring takes one model, not an ensemble")
        if len(sources) != len(targets):
            raise ValueError(f"{len(sources)} sources but {len(targets)} targets")
        model, params = self.models[0]
        src, _ = self.encode(sources)
        tgt, _ = self.encode(targets)
        out = [None] * len(src)
        for batch in eval_batches(Examples(src, tgt, np.arange(len(src))), self.buckets, self.batch_tokens):
            shortlist = None if self.shortlister is None else self.shortlister(batch["src"])
            res = jax.device_get(score_outputs(model, params, batch["src"], batch["tgt_out"], self.cfg, shortlist))
            for row, i in enumerate(batch["index"]):
                if i >= 0:
                    n = len(tgt[i]) + 1
                    out[i] = Scored(
                        float(res["score"][row]),
                        float(res["logp"][row]),
                        tuple(float(x) for x in res["token_logp"][row][:n]),
                    )
        return out

    def _stream(self) -> Stream:
        if self._live is None:
            live = None
            if self.slots and len(self.models) == 1:
                (model, params), src_len = self.models[0], max(self.buckets)
                live = LiveQueue(
                    model,
                    params,
                    self.cfg,
                    self.slots,
                    self.queue_rows,
                    src_len,
                    max_output_len(src_len, self.cfg),
                    self.projected,
                    self.source,
                    self.shortlister,
                    self.lanes,
                    self.buckets,
                    self.lane_cap,
                    self.overlap,
                    self.lazy_writes,
                    self.early_shrink,
                )
            empty = Translation((Hypothesis("", 0.0),) * self.nbest)
            quiet = lambda lines: self.translate(lines, report=False)  # the caller reports what it got
            alone = self._alone if live is not None and self.solo else None
            self._live = Stream(live, quiet, self.encode, self._hypotheses, empty, Translation, alone)
        return self._live

    def submit(self, lines: list[str]) -> int:
        """Queues lines for `collect`; returns their ticket. With slots, their sentences join the search that is
        running as soon as there is room (`nmt.decode.live`)."""
        return self._stream().submit(lines)

    def collect(self, steps: int = 8) -> dict[int, list[Translation]]:
        """Advances the search of the submitted lines (with slots: by up to `steps` decoder steps; else all of them
        at once) and returns {ticket: its translations} of the tickets that completed."""
        return self._stream().collect(steps)

    def cancel(self, ticket: int) -> None:
        """Forgets a ticket: its waiting sentences are dropped and their slots freed."""
        self._stream().cancel(ticket)

    def idle(self) -> bool:
        """No ticket in progress."""
        return self._live is None or self._stream().idle()

    def warm(self) -> None:
        """Compiles the programs that `submit`/`collect` run: the live queue's exactly (`LiveQueue.warm`); without
        one (an ensemble, greedy search, fixed batches), a search of a sentence of each bucket's length."""
        live = self._stream().live
        if live is not None:
            live.warm()
            if self.solo:
                for bucket in self.buckets:
                    self._alone([4] * (bucket - 1))
        else:
            for bucket in self.buckets:
                self.search([[4] * (bucket - 1)])

    def progress(self, ticket: int) -> tuple[int, int]:
        """(lines done, lines) of a ticket in progress."""
        return self._stream().progress(ticket)

    def lane_info(self, counts: bool = True) -> dict:
        """The live search's settings (lanes, cap, each lane's measured step in ms, lazy writes, early shrink) and with
        `counts` its sentences written, encoder calls and chunks so far, warm-up's included (empty without one)."""
        if (live := self._stream().live) is None:
            return {}
        info = {"lanes": list(live.lanes), "lane_cap": live.cap, "lane_ms_per_step": live.ms_per_step or None}
        info |= {"lazy_writes": live.lazy, "early_shrink": live.early_shrink}
        counted = {"written": live.count, "encoder_calls": live.encoder_calls, "chunks": live.chunks}
        return info | counted if counts else info

    def slot_use(self) -> tuple[int, int]:
        """Slots of the live search that hold a sentence (as the last chunk read back and cancellations left them:
        no read from the device; with `overlap` the chunk in flight is not counted yet), and the slots it searches
        with now (its lane)."""
        live = self._live.live if self._live is not None else None
        return (0, 0) if live is None else (live.busy, live.lane)
