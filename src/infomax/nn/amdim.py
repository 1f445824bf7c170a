"""The AMDIM encoder (Bachman, Hjelm and Buchwalter 2019, arXiv 1906.00910, Sec. 4 and App.).

A ResNet without padding inside the trunk, so that every location of the 7x7 and 5x5 maps
has a receptive field that is a fixed, bounded window of the input. Three input sizes
(32, 64, 128 px) share the same tail; see ``docs`` and the spec for the table.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ENCODER_SIZES = (32, 64, 128)


class EncoderOutput(NamedTuple):
    """Embeddings of one batch: global (B, d), 5x5 map (B, d, 5, 5), 7x7 map (B, d, 7, 7)."""

    global_: Tensor
    local5: Tensor
    local7: Tensor


def _maybe_bn(channels: int, use_bn: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if use_bn else nn.Identity()


class ConvReLU(nn.Module):
    """``Conv(i, o, k, s, p)``: k x k convolution (bias), optional padding, then ReLU."""

    def __init__(self, n_in: int, n_out: int, kernel: int, stride: int, pad: int,
                 pad_mode: str = "constant") -> None:
        super().__init__()
        self.pad = pad
        self.pad_mode = pad_mode
        self.conv = nn.Conv2d(n_in, n_out, kernel, stride, 0, bias=True)

    def forward(self, x: Tensor) -> Tensor:
        if self.pad > 0:
            x = F.pad(x, (self.pad,) * 4, mode=self.pad_mode)
        return F.relu(self.conv(x), inplace=True)


class ResUnit(nn.Module):
    """``Res(i, o, k, s)``: branch conv_kxk/s (no pad, no bias) -> [BN] -> ReLU -> conv_1x1
    initialised to zero; shortcut k x k average pooling with stride s, zero-padded on the
    channel axis when o > i (a learned k x k conv when o < i). No activation after the sum."""

    def __init__(self, n_in: int, n_out: int, kernel: int, stride: int, use_bn: bool) -> None:
        super().__init__()
        self.n_in, self.n_out, self.kernel, self.stride = n_in, n_out, kernel, stride
        self.conv1 = nn.Conv2d(n_in, n_out, kernel, stride, 0, bias=False)
        self.bn1 = _maybe_bn(n_out, use_bn)
        self.conv2 = nn.Conv2d(n_out, n_out, 1, 1, 0, bias=False)
        self.shortcut_conv = (nn.Conv2d(n_in, n_out, kernel, stride, 0, bias=True)
                              if n_out < n_in else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.kaiming_uniform_(self.conv1.weight, a=math.sqrt(5))
        # Zero-initialised last conv: every unit starts as its shortcut (fixup-like).
        nn.init.zeros_(self.conv2.weight)

    def forward(self, x: Tensor) -> Tensor:
        # ReLU in place on the fresh conv (or BN) output, which no backward reads: the
        # values and gradients of F.relu, one allocation fewer.
        branch = self.conv2(F.relu(self.bn1(self.conv1(x)), inplace=True))
        if self.shortcut_conv is not None:
            short = self.shortcut_conv(x)
        else:
            short = x
            if self.kernel > 1 or self.stride > 1:
                short = F.avg_pool2d(x, self.kernel, self.stride)
            if self.n_out > self.n_in:
                short = F.pad(short, (0, 0, 0, 0, 0, self.n_out - self.n_in))
        return branch + short


def res_block(n_in: int, n_out: int, kernel: int, stride: int, depth: int,
              use_bn: bool) -> nn.Sequential:
    """``Block(i, o, k, s, depth)``: Res(i, o, k, s) then depth - 1 units Res(o, o, 1, 1)."""
    units = [ResUnit(n_in, n_out, kernel, stride, use_bn)]
    units += [ResUnit(n_out, n_out, 1, 1, use_bn) for _ in range(depth - 1)]
    return nn.Sequential(*units)


class EmbedMLP(nn.Module):
    """Residual 1x1-conv MLP for a local map: out = BN(W2 relu([BN] W1 h) + S h), with S a
    1x1 conv initialised close to the identity and W2 initialised to zero."""

    def __init__(self, n_in: int, n_out: int, use_bn: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(n_in, n_out, 1, bias=False)
        self.bn1 = _maybe_bn(n_out, use_bn)
        self.conv2 = nn.Conv2d(n_out, n_out, 1, bias=False)
        self.shortcut = nn.Conv2d(n_in, n_out, 1, bias=True)
        self.bn_out = nn.BatchNorm2d(n_out)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        nn.init.kaiming_uniform_(self.conv1.weight, a=math.sqrt(5))
        nn.init.zeros_(self.conv2.weight)
        n_out, n_in = self.shortcut.weight.shape[:2]
        if n_out >= n_in:
            self.shortcut.weight.uniform_(-0.01, 0.01)
            idx = torch.arange(n_in)
            self.shortcut.weight[idx, idx, 0, 0] = 1.0

    def forward(self, h: Tensor) -> Tensor:
        branch = self.conv2(F.relu(self.bn1(self.conv1(h)), inplace=True))
        return self.bn_out(branch + self.shortcut(h))


class AMDIMEncoder(nn.Module):
    """AMDIM encoder for 32, 64 or 128 px inputs.

    Args:
        image_size: 32, 64 or 128.
        in_channels: input channels (1 for grayscale sets, 3 for colour).
        ndf: base width n; the trunk widens to 4n (32 px) or 8n (64/128 px).
        n_rkhs: embedding dimension d shared by the global vector and the local maps.
        n_depth: residual units per Block.
        use_bn: turn on the optional BatchNorms (inside residual branches, after the
            7x7 stage and inside the embedding MLPs). The final BN is always on.

    The 7x7 map is taken after the optional BN that follows the stride-2 stage (identity when
    ``use_bn`` is off), as the public code does; the 5x5 map is the output of the first
    stride-1 Block. The global vector is the 1x1 output after its BN (phi_1 = identity).
    """

    def __init__(self, image_size: int = 32, in_channels: int = 3, ndf: int = 128,
                 n_rkhs: int = 1024, n_depth: int = 3, use_bn: bool = False) -> None:
        super().__init__()
        if image_size not in ENCODER_SIZES:
            raise ValueError(f"image_size must be one of {ENCODER_SIZES}, got {image_size}")
        for name, value in (("in_channels", in_channels), ("ndf", ndf), ("n_rkhs", n_rkhs),
                            ("n_depth", n_depth)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        self.image_size, self.in_channels = image_size, in_channels
        self.ndf, self.n_rkhs, self.n_depth, self.use_bn = ndf, n_rkhs, n_depth, use_bn
        n, d, depth = ndf, n_rkhs, n_depth
        if image_size == 32:
            stem = [ConvReLU(in_channels, n, 3, 1, 0), ResUnit(n, n, 1, 1, use_bn),
                    res_block(n, 2 * n, 4, 2, depth, use_bn),
                    res_block(2 * n, 4 * n, 2, 2, depth, use_bn)]
            width = 4 * n
        else:
            if image_size == 64:
                stem = [ConvReLU(in_channels, n, 3, 1, 0)]
            else:
                stem = [ConvReLU(in_channels, n, 5, 2, 2, pad_mode="reflect"),
                        ConvReLU(n, n, 3, 1, 0)]
            stem += [res_block(n, 2 * n, 4, 2, depth, use_bn),
                     res_block(2 * n, 4 * n, 4, 2, depth, use_bn),
                     res_block(4 * n, 8 * n, 2, 2, depth, use_bn)]
            width = 8 * n
        # Stages: to the 7x7 map, to the 5x5 map, then to the 1x1 global output.
        self.to7 = nn.Sequential(*stem, _maybe_bn(width, use_bn))
        self.to5 = res_block(width, width, 3, 1, depth, use_bn)
        self.to1 = nn.Sequential(res_block(width, width, 3, 1, depth, use_bn),
                                 ResUnit(width, d, 3, 1, use_bn), nn.BatchNorm2d(d))
        self.embed7 = EmbedMLP(width, d, use_bn)
        self.embed5 = EmbedMLP(width, d, use_bn)
        self.trunk_width = width

    def stages(self, x: Tensor) -> list[tuple[str, Tensor]]:
        """Every intermediate output, named, for inspection and tests."""
        outs = []
        h = x
        for i, layer in enumerate(self.to7):
            h = layer(h)
            outs.append((f"to7.{i}", h))
        h5 = self.to5(h)
        outs.append(("to5", h5))
        h = h5
        for i, layer in enumerate(self.to1):
            h = layer(h)
            outs.append((f"to1.{i}", h))
        return outs

    def forward(self, x: Tensor) -> EncoderOutput:
        self._check_input(x)
        h7 = self.to7(x)
        h5 = self.to5(h7)
        g = self.to1(h5).flatten(1)
        return EncoderOutput(g, self.embed5(h5), self.embed7(h7))

    @property
    def feature_dim(self) -> int:
        """Size of the global vector ``embed`` returns."""
        return self.n_rkhs

    @property
    def local_dim(self) -> int:
        """Channels of the intermediate map ``forward_features`` returns."""
        return self.trunk_width

    def forward_features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(global vector (B, n_rkhs), the trunk's 7x7 map (B, trunk_width, 7, 7)): the
        backbone interface the other methods use (``infomax.nn.encoders``)."""
        self._check_input(x)
        h7 = self.to7(x)
        return self.to1(self.to5(h7)).flatten(1), h7

    def embed(self, x: Tensor) -> Tensor:
        """Global embedding only (B, n_rkhs); skips the local embedding heads."""
        self._check_input(x)
        return self.to1(self.to5(self.to7(x))).flatten(1)

    def _check_input(self, x: Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != self.in_channels or x.shape[-2:] != (
                self.image_size, self.image_size):
            raise ValueError(
                f"AMDIMEncoder expects input (B, {self.in_channels}, {self.image_size}, "
                f"{self.image_size}), got {tuple(x.shape)}")


class MixtureHead(nn.Module):
    """AMDIM's mixture vectors (paper Sec. 3.7): f^j = f + m_j(f) for j = 1..k, with m a
    one-hidden-layer ReLU MLP whose output holds the k residuals. (B, D) -> (B, k, D).

    The output layer keeps PyTorch's random initialisation: zero residuals would make the
    k components identical, and identical components receive identical gradients forever.
    """

    def __init__(self, dim: int, k: int, hidden: int | None = None) -> None:
        super().__init__()
        self.k = k
        self.fc1 = nn.Linear(dim, hidden or dim)
        self.fc2 = nn.Linear(hidden or dim, k * dim)

    def forward(self, f: Tensor) -> Tensor:
        b, d = f.shape
        return f[:, None] + self.fc2(F.relu(self.fc1(f))).view(b, self.k, d)
