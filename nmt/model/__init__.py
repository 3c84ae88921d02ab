"""Model: LSTM layers, attention scores, the decoders, and the encoder–attention–decoder that holds them."""

from nmt.model.build import init_params, make_model
from nmt.model.decoder import DecState, EncoderOutput
from nmt.model.seq2seq import Seq2Seq
