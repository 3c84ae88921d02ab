"""Decoding: greedy search (beam search builds on the same model step)."""
from nmt.decode.greedy import greedy_decode, translate_examples, translate_text
