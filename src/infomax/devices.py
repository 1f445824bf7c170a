"""The device a command runs on (``--device`` of probe, embed, export and the benchmarks):
one resolution rule and one error for every subcommand and for the library's functions."""

from __future__ import annotations

import torch

from infomax.errors import InfomaxError


def default_device() -> torch.device:
    """CUDA's first device when one is visible, else the CPU (Apple's MPS is used only
    when asked for: several of torch's ops fall back to the CPU there)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def usable_devices() -> list[str]:
    """The devices this machine has, in words, for error messages."""
    gpus = torch.cuda.device_count()
    usable = ["cpu"] + ([f"cuda (cuda:0..cuda:{gpus - 1})"] if gpus else [])
    return usable + (["mps"] if torch.backends.mps.is_available() else [])


def resolve_device(device: str | torch.device | None, flag: str = "--device") -> torch.device:
    """``device`` as a torch.device: None or "auto" gives ``default_device()``; "cpu",
    "cuda", "cuda:N" and "mps" are taken when this machine has them. InfomaxError (one line
    naming ``flag`` and the devices there are) otherwise."""
    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        return default_device()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        dev = None
    gpus = torch.cuda.device_count()
    ok = dev is not None and (
        dev.type == "cpu" or (dev.type == "cuda" and (dev.index or 0) < gpus)
        or (dev.type == "mps" and torch.backends.mps.is_available()))
    if not ok:
        raise InfomaxError(f"{flag}: {str(device)!r} is not a device this machine has; use "
                           f"{' or '.join(['auto', *usable_devices()])}")
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device())
    return dev
