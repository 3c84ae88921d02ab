import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from nmt.model import attention
from nmt.tools.residuals import saved_residuals
from tests.helpers import assert_same_loss_and_grads, loss_for

KINDS = ["dot", "general", "bahdanau"]


def inputs(kind, dtype, b=2, k=3, s=5, h=4, seed=0):
    rng = np.random.default_rng(seed)
    arr = lambda *shape: jnp.asarray(rng.normal(size=shape), dtype)
    p = {n: arr(*shape) for n, shape in attention.attention_param_shapes(kind, h, h).items()}
    mask = jnp.asarray(np.arange(s)[None, :] < np.array([[s], [2]]))
    return p, arr(b, k, h), arr(b, s, h), arr(b, s, h), mask, arr(b, k, h), arr(b, k, s)


def objective(fn, kind, mask, r_ctx, r_probs):
    def f(p, q, keys, values):
        ctx, probs = fn(p, kind, q, keys, values, mask)
        return jnp.sum(ctx * r_ctx) + jnp.sum(jnp.tanh(probs) * r_probs)

    return f


def custom(p, kind, q, keys, values, mask):
    return attention.attend(p, kind, q, keys, values, mask, recompute=True)


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_match_autodiff_in_float64_and_finite_differences(x64, kind):
    p, q, keys, values, mask, r_ctx, r_probs = inputs(kind, jnp.float64)
    plain = objective(attention.attend, kind, mask, r_ctx, r_probs)
    mine = objective(custom, kind, mask, r_ctx, r_probs)
    np.testing.assert_allclose(mine(p, q, keys, values), plain(p, q, keys, values), rtol=1e-12)
    g_plain = jax.grad(plain, argnums=(0, 1, 2, 3))(p, q, keys, values)
    g_mine = jax.grad(mine, argnums=(0, 1, 2, 3))(p, q, keys, values)
    for a, b in zip(jax.tree.leaves(g_mine), jax.tree.leaves(g_plain)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    check_grads(mine, (p, q, keys, values), order=1, modes=["rev"], atol=1e-6, rtol=1e-6)


def scan_loss(fn, kind, t=7, s=11, h=4):
    """A decoder-like scan: T steps attend over the same S keys/values."""
    p, _, keys, values, mask, _, _ = inputs(kind, jnp.float32, b=2, k=1, s=s, h=h)
    qs = jax.random.normal(jax.random.key(0), (t, 2, 1, h))

    def loss(p, keys, values, qs):
        def body(carry, q):
            ctx, _ = fn(p, kind, q + carry, keys, values, mask)
            return jnp.tanh(ctx), jnp.sum(ctx**2)

        _, out = jax.lax.scan(body, jnp.zeros((2, 1, h)), qs)
        return jnp.sum(out)

    return loss, (p, keys, values, qs)


@pytest.mark.parametrize("kind", KINDS)
def test_residuals_hold_no_decoder_by_encoder_array(kind):
    t, s = 7, 11
    has_t_and_s = lambda shape: t in shape and s in shape
    loss, args = scan_loss(custom, kind, t, s)
    mine = saved_residuals(loss, *args)
    assert not [r for r in mine if has_t_and_s(r.shape)], mine
    keys_like = [r for r in mine if r.shape == (2, s, 4)]
    assert len(keys_like) <= 2  # keys and values, once each: loop-invariant, not stacked per step
    plain_loss, _ = scan_loss(attention.attend, kind, t, s)
    assert [r for r in saved_residuals(plain_loss, *args) if has_t_and_s(r.shape)]  # what the custom VJP avoids


@pytest.mark.parametrize("kind", ["general", "bahdanau"])
def test_model_with_recomputing_attention_matches_autodiff(kind):
    ref_fn, params = loss_for("none", f"model.attention={kind}", "model.attention_impl=autodiff")
    fn, _ = loss_for("none", f"model.attention={kind}", "model.attention_impl=recompute")
    assert_same_loss_and_grads(fn, ref_fn, params, rtol=1e-4, atol=1e-6)
