"""Small helpers that every layer shares. It imports nothing of nmt, and JAX only when called, so a command can parse
its options (and set JAX's environment) before JAX starts."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

NEG_INF = -1.0e9  # a logit or score that no real one reaches, finite so that sums and differences stay finite


def wide_dtype(dtype):
    """At least float32: recurrent state, softmax and scores keep float32 under bfloat16 compute (float64 stays
    float64 for gradient checks)."""
    import jax.numpy as jnp

    return jnp.promote_types(dtype, jnp.float32)


def widen(x):
    """The array `x` in `wide_dtype(x.dtype)`."""
    return x.astype(wide_dtype(x.dtype))


@contextlib.contextmanager
def atomic_open(path: str, mode: str = "wb"):
    """A file opened for writing under a temporary name beside `path` and renamed to it when the block ends without
    an error, so a reader never sees a half-written file; on an error the temporary file is removed."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would outlive the rename; a plain open honours the umask
    try:
        with os.fdopen(fd, mode) as f:
            yield f
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _umask() -> int:
    mask = os.umask(0o022)  # reading it means setting it; set straight back
    os.umask(mask)
    return mask


def write_atomic(path: str, data: bytes | str) -> None:
    with atomic_open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def copy_atomic(src: str, dst: str) -> None:
    """Copies `src` to `dst` so that `dst` is either absent or whole."""
    with open(src, "rb") as f, atomic_open(dst, "wb") as out:
        shutil.copyfileobj(f, out)


def listing(numbers: list[int], most: int = 20) -> str:
    """Line numbers for a warning: the first `most`, then "..." if there are more."""
    return ", ".join(map(str, numbers[:most])) + (" ..." if len(numbers) > most else "")
