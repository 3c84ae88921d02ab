import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nmt.data.vocab import EOS, PAD
from nmt.model import Seq2Seq, attention
from nmt.model.decoder import dropout
from nmt.model.loss import token_loss
from tests.helpers import model_and_params, random_batch


@pytest.mark.parametrize("kind", ["general", "dot", "bahdanau"])
def test_attention_shapes_and_padding_mask(kind):
    rng = np.random.default_rng(0)
    b, s, h = 3, 6, 5
    shapes = attention.attention_param_shapes(kind, h, h)
    p = {k: jnp.asarray(rng.normal(size=v), jnp.float32) for k, v in shapes.items()}
    enc = jnp.asarray(rng.normal(size=(b, s, h)), jnp.float32)
    q = jnp.asarray(rng.normal(size=(b, h)), jnp.float32)
    mask = jnp.asarray(np.arange(s)[None, :] < np.array([[6], [3], [1]]))
    keys = attention.project_keys(p, kind, enc)
    ctx, probs = attention.attend(p, kind, q, keys, enc, mask)
    assert ctx.shape == (b, h) and probs.shape == (b, s)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-6)
    assert float(jnp.abs(jnp.where(mask, 0.0, probs)).max()) == 0.0
    noisy = jnp.where(mask[..., None], enc, 100.0)  # garbage in padded positions changes nothing
    ctx2, _ = attention.attend(p, kind, q, attention.project_keys(p, kind, noisy), noisy, mask)
    np.testing.assert_allclose(ctx, ctx2, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "kind, decoder", [("general", "luong"), ("dot", "luong"), ("bahdanau", "luong"), ("general", "gnmt")]
)
def test_model_shapes_and_source_padding_invariance(kind, decoder):
    model, params = model_and_params(
        f"model.attention={kind}", "model.enc_layers=3", "model.dec_layers=3", f"model.decoder={decoder}"
    )
    src, tgt = random_batch(np.random.default_rng(1), 4, 7, 6)
    apply = jax.jit(model.apply)  # op by op, every call would compile its scans again
    logits = apply({"params": params}, src, tgt)
    assert logits.shape == (4, 6, 30) and logits.dtype == jnp.float32
    wider = jnp.pad(src, ((0, 0), (0, 5)))
    np.testing.assert_allclose(apply({"params": params}, wider, tgt), logits, rtol=1e-5, atol=1e-5)


def test_padding_does_not_change_a_sentences_loss():
    model, params = model_and_params("model.enc_layers=2")
    rng = np.random.default_rng(2)
    src, tgt = random_batch(rng, 5, 9, 8)
    tgt_out = jnp.concatenate([tgt[:, 1:], jnp.zeros((5, 1), jnp.int32)], 1)
    tgt_out = jnp.where(tgt_out == 0, 0, tgt_out).at[jnp.arange(5), (tgt != 0).sum(1) - 1].set(EOS)
    apply = jax.jit(model.apply)  # op by op, every call would compile its scans again
    per_row = []
    for r in range(5):
        ls, lt = int((src[r] != 0).sum()), int((tgt[r] != 0).sum())
        alone = apply({"params": params}, src[r : r + 1, :ls], tgt[r : r + 1, :lt])
        per_row.append(token_loss(alone, tgt_out[r : r + 1, :lt], 0.1)[0])
    batched = apply({"params": params}, jnp.pad(src, ((0, 0), (0, 4))), jnp.pad(tgt, ((0, 0), (0, 3))))
    for r in range(5):
        row = token_loss(batched[r : r + 1], jnp.pad(tgt_out, ((0, 0), (0, 3)))[r : r + 1], 0.1)[0]
        np.testing.assert_allclose(row, per_row[r], rtol=1e-5)


@pytest.mark.parametrize(
    "kind, decoder, layers",
    [("general", "luong", 2), ("bahdanau", "luong", 2), ("general", "gnmt", 3), ("bahdanau", "gnmt", 2)],
)
def test_step_by_step_decoder_matches_teacher_forcing(kind, decoder, layers):
    model, params = model_and_params(
        f"model.attention={kind}", f"model.dec_layers={layers}", f"model.decoder={decoder}"
    )
    src, tgt = random_batch(np.random.default_rng(3), 3, 6, 5)
    full = jax.jit(model.apply)({"params": params}, src, tgt)
    v = {"params": params}
    memory = jax.jit(functools.partial(model.apply, method=Seq2Seq.encode))(v, src)
    state = model.apply(v, memory, method=Seq2Seq.zero_state)
    for t in range(tgt.shape[1]):
        state, logits, _ = model.apply(v, memory, state, tgt[:, t], method=Seq2Seq.step)
        np.testing.assert_allclose(logits, full[:, t], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind, decoder", [("general", "luong"), ("bahdanau", "luong"), ("general", "gnmt")])
def test_gradients_match_finite_differences(x64, kind, decoder):
    model, params = model_and_params(
        f"model.attention={kind}",
        "model.dtype=float64",
        "model.enc_layers=3",
        "model.dec_layers=3",
        "model.tie_output=false",
        f"model.decoder={decoder}",
    )
    params = jax.tree.map(lambda x: x.astype(jnp.float64), params)
    src, tgt = random_batch(np.random.default_rng(4), 2, 5, 4)
    tgt_out = jnp.roll(tgt, -1, axis=1).at[:, -1].set(PAD)

    def loss(p):
        return token_loss(model.apply({"params": p}, src, tgt), tgt_out, 0.1)[0]

    loss = jax.jit(loss)
    grads = jax.jit(jax.grad(loss))(params)
    leaves, treedef = jax.tree.flatten(params)
    rng = np.random.default_rng(5)
    for _ in range(3):
        direction = treedef.unflatten([jnp.asarray(rng.normal(size=x.shape)) for x in leaves])
        eps = 1e-6
        plus = loss(jax.tree.map(lambda p, d: p + eps * d, params, direction))
        minus = loss(jax.tree.map(lambda p, d: p - eps * d, params, direction))
        numeric = (plus - minus) / (2 * eps)
        analytic = sum(jnp.vdot(g, d) for g, d in zip(jax.tree.leaves(grads), jax.tree.leaves(direction)))
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6)
    assert all(float(jnp.abs(g).max()) > 0 for g in jax.tree.leaves(grads))


def _lstm(weights, xs):
    """One LSTM direction step by step in numpy: xs [n, D] -> [n, H]."""
    w_x, w_h, b = (np.asarray(weights[k], np.float64) for k in ("w_x", "w_h", "b"))
    h = c = np.zeros(w_h.shape[0])
    sig = lambda v: 1 / (1 + np.exp(-v))
    out = []
    for x in xs:
        i, f, g, o = np.split(x @ w_x + h @ w_h + b, 4)
        c = sig(f) * c + sig(i) * np.tanh(g)
        h = sig(o) * np.tanh(c)
        out.append(h)
    return np.stack(out)


@pytest.mark.parametrize(
    "encoder, fuse, impl",
    [
        ("gnmt", True, "scan"),
        ("brnn", True, "scan"),
        ("brnn", False, "scan"),
        ("gnmt", False, "cudnn"),
        ("brnn", False, "cudnn"),
    ],
)
def test_encoder_equals_a_step_by_step_lstm(encoder, fuse, impl):
    """Each sentence's encoding equals LSTMs run token by token over it alone: forward in order, backward over the
    reversed sentence; zeros at padding. With the directions in one scan or in two, or through the cuDNN call (on
    the CPU its reference implementation: this checks the packing of the weights and the padding)."""
    model, params = model_and_params(
        f"model.encoder={encoder}", "model.enc_layers=3", f"model.fuse_directions={fuse}", f"model.encoder_impl={impl}"
    )
    src, _ = random_batch(np.random.default_rng(5), 4, 7, 2)
    enc = np.asarray(jax.jit(functools.partial(model.apply, method=Seq2Seq.encode))({"params": params}, src).values)
    p, emb = params["encoder"], np.asarray(params["src_embed"]["embedding"], np.float64)
    bi = lambda name, xs: np.concatenate([_lstm(p[f"{name}_fwd"], xs), _lstm(p[f"{name}_bwd"], xs[::-1])[::-1]], -1)
    for row, ids in zip(enc, np.asarray(src)):
        n = int((ids != PAD).sum())
        out = bi("l0", emb[ids[:n]])
        for layer in range(1, 3):
            new = bi(f"l{layer}", out) if encoder == "brnn" else _lstm(p[f"l{layer}"], out)
            out = new + out if encoder == "gnmt" and layer >= 2 else new
        np.testing.assert_allclose(row[:n], out, rtol=1e-4, atol=1e-5)
        assert not row[n:].any()


def test_the_opennmt_preset_has_the_peers_parameters_but_the_second_lstm_biases():
    """OpenNMT-py's model has 16,342,848 parameters; PyTorch keeps two bias vectors per LSTM (b_ih and b_hh) where
    one suffices: 4 encoder directions x 4 x 256 and 2 decoder layers x 4 x 512 = 8,192 more."""
    from nmt.config import get_config
    from nmt.model import make_model
    from nmt.training.step import init_train_state, make_optimizer

    cfg = get_config("opennmt_rnn")
    model = make_model(cfg, 8000)
    state = jax.eval_shape(lambda: init_train_state(model, make_optimizer(cfg.train), jax.random.key(0)))
    assert sum(x.size for x in jax.tree.leaves(state.params)) == 16_342_848 - 8_192


def test_shared_embeddings_are_one_matrix_that_both_sides_read_and_train():
    model, params = model_and_params("model.share_embeddings=true")
    separate, sep_params = model_and_params()
    assert "src_embed" not in params
    emb = sep_params["tgt_embed"]["embedding"]
    saved = sum(x.size for x in jax.tree.leaves(sep_params)) - sum(x.size for x in jax.tree.leaves(params))
    assert saved == emb.size
    src, tgt = random_batch(np.random.default_rng(2), 3, 6, 5)
    # the separate model with its source table made the target's is the shared model, logit for logit
    same = dict(sep_params, src_embed={"embedding": emb})
    shared = dict(sep_params, tgt_embed={"embedding": emb})
    shared.pop("src_embed")
    np.testing.assert_allclose(
        jax.jit(model.apply)({"params": shared}, src, tgt),
        jax.jit(separate.apply)({"params": same}, src, tgt),
        rtol=1e-6,
        atol=1e-6,
    )
    # a token that only the source holds gets a gradient in the one table
    only_src = int(np.setdiff1d(np.asarray(src), np.concatenate([np.asarray(tgt).ravel(), [PAD]]))[0])
    g = jax.jit(jax.grad(lambda p: model.apply({"params": p}, src, tgt).sum()))(shared)
    assert float(jnp.abs(g["tgt_embed"]["embedding"][only_src]).max()) > 0


def test_word_dropout_drops_whole_words_on_both_sides():
    model, params = model_and_params("model.word_dropout=0.5")  # and no other dropout
    drop = lambda m, x, words: dropout(m, x, m.cfg.dropout, True, m.cfg.word_dropout * words)
    source = np.asarray(
        model.apply({"params": params}, jnp.ones((4, 50, 8)), True, method=drop, rngs={"dropout": jax.random.key(1)})
    )
    target = np.asarray(
        model.apply(
            {"params": params}, jax.random.key(2), jnp.arange(50), 4, method=lambda m, *a: m.decoder._dropout_scales(*a)
        )[0]
    )  # [steps, batch, emb]
    for scales in (source, target):
        assert set(np.unique(scales)) == {0.0, 2.0} and (scales == scales[..., :1]).all()
        assert 0.35 < (scales[..., 0] == 0).mean() < 0.65
    kept = model.apply(
        {"params": params}, jnp.ones((4, 50, 8)), False, method=drop, rngs={"dropout": jax.random.key(1)}
    )
    assert (np.asarray(kept) == 1).all()  # the encoder's inner layers take no word dropout
