"""A memory bank of L2-normalized features, one row per pretraining image (Wu et al. 2018,
Sec. 3.2; reused by CMC, Tian et al. 2019, Sec. 3.3)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infomax.dist import gather_no_grad


def bank_generator(seed: int) -> torch.Generator:
    """The RNG a bank is drawn from: seeded by the run's seed, so that every process of a
    data-parallel run (whose global RNGs are seeded per rank) draws the same bank, and the
    global RNG stream (augmentations, shuffling) is not consumed."""
    return torch.Generator().manual_seed(int(seed))


class MemoryBank(nn.Module):
    """(N, D) unit rows in a registered buffer, so checkpoints hold the bank and a resumed
    run continues from exactly the same one.

    ``size`` may be 0 at construction (the number of pretraining images is not always known
    then): ``resize(n)`` draws a fresh bank, and ``load_state_dict`` adopts the checkpoint's
    shape, so a method built without data can still load a trained bank."""

    def __init__(self, size: int, dim: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.dim = dim
        self.register_buffer("bank", self._random(size, dim, generator))

    @staticmethod
    def _random(n: int, d: int, generator: torch.Generator | None,
                device: Any = None, dtype: torch.dtype = torch.float32) -> Tensor:
        # Random unit vectors, as both papers initialise their banks (isotropic Gaussian,
        # normalized: uniform on the sphere).
        v = torch.randn(n, d, generator=generator, dtype=torch.float32)
        return F.normalize(v, dim=1).to(device=device, dtype=dtype)

    @property
    def size(self) -> int:
        return self.bank.shape[0]

    def resize(self, n: int, generator: torch.Generator | None = None) -> None:
        """Replace the bank by ``n`` fresh random unit rows (same device and dtype)."""
        self.bank = self._random(n, self.dim, generator, self.bank.device, self.bank.dtype)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        # A bank built with another (e.g. 0) number of rows takes the checkpoint's shape
        # instead of refusing it; the feature size must still match.
        key = prefix + "bank"
        saved = state_dict.get(key)
        if saved is not None and saved.shape != self.bank.shape and saved.dim() == 2 \
                and saved.shape[1] == self.dim:
            self.bank = torch.empty(saved.shape, dtype=self.bank.dtype, device=self.bank.device)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def forward(self, index: Tensor) -> Tensor:
        """Rows ``index`` (any shape) -> (*index.shape, D); a copy, never a view."""
        return self.bank[index]

    def sample(self, n_pos: int, k: int, generator: torch.Generator | None = None) -> Tensor:
        """(n_pos, k) indices drawn uniformly from [0, N) with replacement: the noise
        distribution P_n = 1/N of Wu et al. (the positive itself may be drawn, as there)."""
        if self.size == 0:
            raise RuntimeError("the memory bank is empty; size it with resize(n) first "
                               "(methods do so in setup('fit'))")
        return torch.randint(0, self.size, (n_pos, k), generator=generator,
                             device=self.bank.device)

    @torch.no_grad()
    def update(self, index: Tensor, features: Tensor, momentum: float,
               gather: bool = True) -> None:
        """v_i <- normalize(m v_i + (1 - m) f) for each (i, f) (Wu et al. 2018, Sec. 3.2).

        Under data parallelism (``gather``) the indices and features of every process are
        used, so the banks of all processes stay identical. Rows sharing an index (padding
        of a distributed sampler) are averaged first and the update applied once: the result
        does not depend on their order."""
        index = index.reshape(-1).to(self.bank.device)
        feats = features.detach().to(self.bank.dtype).reshape(index.shape[0], -1)
        if gather:
            index, feats = gather_no_grad(index), gather_no_grad(feats)
        uniq, inverse = torch.unique(index, return_inverse=True)
        if uniq.shape[0] < index.shape[0]:
            # Mean over duplicates by a one-hot matmul: deterministic, unlike scatter-adds
            # with atomics on accelerators.
            onehot = F.one_hot(inverse, uniq.shape[0]).to(feats.dtype).T   # (U, B)
            feats = (onehot @ feats) / onehot.sum(1, keepdim=True)
            index = uniq
        new = F.normalize(momentum * self.bank[index] + (1.0 - momentum) * feats, dim=1)
        self.bank.index_copy_(0, index, new)
