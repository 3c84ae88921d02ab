"""Model: LSTM layers, attention scores, and the encoder–attention–decoder built around one decoder step."""
from nmt.model.seq2seq import DecState, EncoderOutput, Seq2Seq
