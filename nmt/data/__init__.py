"""Data: validated parallel text, Multi30k location/download, sentencepiece vocabulary, bucketed batches."""

from nmt.data.batching import BatchIterator, Examples, eval_batches
from nmt.data.corpus import DataError, read_parallel
from nmt.data.pipeline import Data, Split, load_data
from nmt.data.vocab import BOS, EOS, PAD, UNK
