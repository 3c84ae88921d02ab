"""What machine a measurement ran on, for the results files: figures differ between machines more than between
variants, so every experiment that reports speed records this beside them."""

from __future__ import annotations

import os
import platform

import jax

_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16")


def _cpuinfo() -> dict:
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return info


def describe() -> dict:
    """The CPU (model, cores this process may use, the vector extensions that matter to XLA), memory, the
    accelerator and the versions."""
    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        memory = None
    return {
        "cpu": info.get("model name", platform.processor() or platform.machine()),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_flags": [f for f in _FLAGS if f in flags],
        "memory_gib": None if memory is None else round(memory, 1),
        "device": jax.devices()[0].device_kind,
        "jax": jax.__version__,
        "python": platform.python_version(),
    }
