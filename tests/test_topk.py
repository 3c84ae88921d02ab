import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nmt.decode.topk import blocked_top_k


def rows(kind, n, rng):
    x = rng.normal(0, 3, (3, 2, n)).astype(np.float32)
    if kind == "ties":  # few distinct values: the lower index must win every tie, across blocks and within them
        x = np.round(x)
    elif kind == "one_block":  # every one of the k best in one block
        x[..., 40:50] += 100.0
    elif kind == "masked":  # most entries -inf, the best few spread over the row's last, partial block
        x[..., : n - 7] = -np.inf
    return jnp.asarray(x)


@pytest.mark.parametrize("kind", ["normal", "ties", "one_block", "masked"])
@pytest.mark.parametrize("n, k, block", [(1000, 10, 8), (1003, 10, 8), (997, 7, 16), (640, 5, 32)])
def test_blocked_top_k_is_lax_top_k(kind, n, k, block):
    x = rows(kind, n, np.random.default_rng(n + k))
    got, want = blocked_top_k(x, k, block), jax.lax.top_k(x, k)
    np.testing.assert_array_equal(np.asarray(got[1]), np.asarray(want[1]))
    np.testing.assert_array_equal(np.asarray(got[0]), np.asarray(want[0]))


def test_blocked_top_k_of_integers_and_of_a_short_axis():
    x = jnp.asarray(np.random.default_rng(0).integers(-5, 5, (4, 2000)), jnp.int32)
    for got, want in zip(blocked_top_k(x, 6, 16), jax.lax.top_k(x, 6)):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    short = jnp.arange(30.0)[::-1]
    np.testing.assert_array_equal(np.asarray(blocked_top_k(short, 3)[1]), [0, 1, 2])
