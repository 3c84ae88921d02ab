"""Decoding: greedy search and batched beam search, each one compiled program (the model is a step callback), and
the host-side `Translator` that drives them."""

from nmt.decode.beam import BeamConfig
from nmt.decode.scoring import score_outputs
from nmt.decode.search import (
    beam_decode,
    embedding_projection,
    greedy_decode,
    queue_beam_decode,
    queue_translate,
    source_projection,
)
from nmt.decode.translator import Hypothesis, Translation, Translator
