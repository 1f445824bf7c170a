"""What the CPU is and what it can do fast: its model name and the instruction sets that
decide whether bfloat16 is worth using (read from /proc/cpuinfo, as lscpu does)."""

from __future__ import annotations

import platform
from functools import lru_cache
from pathlib import Path

# The flags (lscpu's names) with which oneDNN runs bfloat16 matmuls and convolutions in
# hardware: AVX-512 BF16 or AMX's bf16 tiles. Without them bfloat16 is converted to and from
# float32 around float32 kernels, which is slower than float32 alone.
FAST_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def _cpuinfo_field(name: str) -> str | None:
    """The first ``name : value`` line's value in /proc/cpuinfo (None without one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.split(":", 1)[0].strip() == name:
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


@lru_cache(maxsize=None)
def cpu_model() -> str:
    """The CPU's model name ("AMD EPYC", "Intel(R) Xeon(R) ..."), or what platform knows."""
    return _cpuinfo_field("model name") or platform.processor() or platform.machine() \
        or "unknown"


@lru_cache(maxsize=None)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as lscpu lists them (empty where /proc/cpuinfo is absent)."""
    return frozenset((_cpuinfo_field("flags") or "").split())


def cpu_has_fast_bf16() -> bool:
    """Whether bfloat16 matmuls run in hardware on this CPU (AVX-512 BF16 or AMX). Where
    /proc/cpuinfo is absent (macOS, Windows), torch's own check of AVX-512 BF16 decides; the
    check is private API, hence the guard."""
    flags = cpu_flags()
    if flags:
        return any(f in flags for f in FAST_BF16_FLAGS)
    try:
        import torch

        return bool(torch.cpu._is_avx512_bf16_supported())
    except (ImportError, AttributeError):
        return False


def slow_bf16_note(precision: str, on_cpu: bool) -> str | None:
    """One line saying why ``bf16-mixed`` on this CPU will be slower than ``32``, or None
    where it will not be (a GPU, or a CPU with bfloat16 in hardware)."""
    if precision != "bf16-mixed" or not on_cpu or cpu_has_fast_bf16():
        return None
    return (f"infomax: bf16-mixed on this CPU ({cpu_model()}) will be slower than 32: it has "
            f"neither AVX-512 BF16 nor AMX, so every bfloat16 matmul and convolution is "
            f"converted to float32 and back; use train.precision=32 here")
