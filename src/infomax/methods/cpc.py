"""CPC v2 style (van den Oord et al. 2018; Henaff et al. 2019) on a grid of overlapping
image patches: a row-causal context network predicts the codes of the rows below."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infomax.config import setting
from infomax.dist import gather_targets
from infomax.errors import ConfigError
from infomax.losses.cpc import cpc_infonce
from infomax.methods.base import SSLMethod, register_method
from infomax.methods.contract import Batch, StepOutput
from infomax.nn.amdim import AMDIMEncoder


@dataclass
class CPCConfig:
    patch_size: int = setting(16, min=2, help="side of the square patches, in px")
    patch_stride: int = setting(8, min=1, help="step between patches (half the size: 50% overlap)")
    predict_rows: int = setting(2, min=1, help="K: predict the patch codes 1..K rows below")
    context_layers: int = setting(2, min=1, help="masked residual layers of the context network")
    context_dim: int = setting(256, min=1, help="width of the context network")


def patch_grid(image_size: int, patch_size: int, stride: int) -> int:
    """Patches per side of the grid cut from an image (0 when the patch does not fit)."""
    return 0 if patch_size > image_size else (image_size - patch_size) // stride + 1


class CPCEncoder(nn.Module):
    """The CPC representation behind the encoder interface: ``embed(x)`` cuts x into the
    patch grid, encodes every patch with the backbone's global vector and mean-pools the
    codes (Henaff et al. 2019, Sec. 4.1), so every evaluation tool uses it.

    A backbone that needs a fixed input size (the AMDIM encoder, a timm model laid out for
    one size: ``fixed_input``) gets its patches resized bilinearly to that size; ResNets
    take the patches as they are."""

    def __init__(self, backbone: nn.Module, image_size: int, patch_size: int,
                 patch_stride: int, channels_last: bool = False) -> None:
        super().__init__()
        self.backbone = backbone
        self.in_channels, self.image_size = backbone.in_channels, image_size
        self.feature_dim = backbone.feature_dim
        self.patch_size, self.patch_stride = patch_size, patch_stride
        fixed = isinstance(backbone, AMDIMEncoder) or getattr(backbone, "fixed_input", False)
        self.resize_to = backbone.image_size if fixed else None
        self.channels_last = channels_last

    def patch_codes(self, x: Tensor) -> Tensor:
        """(B, C, H, W) images -> (B, feature_dim, rows, cols) patch codes z[b, :, i, j]."""
        p, s = self.patch_size, self.patch_stride
        b, c = x.shape[:2]
        # (B, C, rows, cols, p, p) -> (B * rows * cols, C, p, p), patches row-major.
        grid = x.unfold(2, p, s).unfold(3, p, s)
        rows, cols = grid.shape[2:4]
        patches = grid.permute(0, 2, 3, 1, 4, 5).reshape(b * rows * cols, c, p, p)
        if self.resize_to is not None and self.resize_to != p:
            patches = F.interpolate(patches, size=(self.resize_to, self.resize_to),
                                    mode="bilinear", align_corners=False)
        memory = torch.channels_last if self.channels_last else torch.contiguous_format
        z = self.backbone.embed(patches.contiguous(memory_format=memory))
        return z.view(b, rows, cols, -1).permute(0, 3, 1, 2)

    def embed(self, x: Tensor) -> Tensor:
        return self.patch_codes(x).mean((2, 3))

    def forward(self, x: Tensor) -> Tensor:
        return self.embed(x)


class RowCausalConv(nn.Module):
    """A 3x3 convolution masked to the rows above and the current row: output row i sees
    input rows i - 1 and i only. Implemented as a (2, 3) kernel over an input padded with
    one row on top (and one column each side), the same as zeroing the kernel's last row."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(n_in, n_out, (2, 3))

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.pad(x, (1, 1, 1, 0)))


class ContextNetwork(nn.Module):
    """c[i, j] from the codes of rows <= i (CPC v2's masked context network, smaller): a
    1x1 projection to ``width``, then ``layers`` residual blocks of ReLU, row-causal 3x3
    conv, ReLU, 1x1 conv."""

    def __init__(self, n_in: int, width: int, layers: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(n_in, width, 1)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.ReLU(), RowCausalConv(width, width), nn.ReLU(),
                          nn.Conv2d(width, width, 1)) for _ in range(layers))

    def forward(self, z: Tensor) -> Tensor:
        h = self.proj(z)
        for block in self.blocks:
            h = h + block(h)
        return h


@register_method("cpc", sections={"cpc": CPCConfig},
                 summary="contrastive predictive coding on a grid of image patches")
class CPC(SSLMethod):
    """CPC with the ``cpc`` config section. Only view x1 of each batch is used: the
    patches are the views. ``self.encoder`` is a ``CPCEncoder`` (pooled patch codes); the
    online probes train on the same pooled vector, detached."""

    def __init__(self, config: Any, num_classes: int, in_channels: int, image_size: int) -> None:
        super().__init__(config, num_classes, in_channels, image_size)
        c = self.cfg.cpc
        rows = patch_grid(image_size, c.patch_size, c.patch_stride)
        if rows <= c.predict_rows:
            raise ConfigError(
                f"cpc.patch_size={c.patch_size} with cpc.patch_stride={c.patch_stride} gives "
                f"{rows} patch rows on {image_size} px images, but cpc.predict_rows="
                f"{c.predict_rows} needs more than {c.predict_rows}; lower cpc.patch_size, "
                f"cpc.patch_stride or cpc.predict_rows")
        backbone = self.make_backbone()
        self.encoder = CPCEncoder(backbone, image_size, c.patch_size, c.patch_stride,
                                  self.cfg.train.channels_last)
        d = backbone.feature_dim
        self.context = ContextNetwork(d, c.context_dim, c.context_layers)
        # W_k, k = 1..K: a linear map per prediction distance (1x1 convolutions).
        self.predictors = nn.ModuleList(nn.Conv2d(c.context_dim, d, 1)
                                        for _ in range(c.predict_rows))
        self.build_probes(d)

    def ssl_step(self, batch: Batch) -> StepOutput:
        x1 = batch.views[0]
        z = self.encoder.patch_codes(x1)  # (B, D, R, C)
        ctx = self.context(z)
        rows = z.shape[2]
        preds = [w(ctx[:, :, :rows - k]) for k, w in enumerate(self.predictors, start=1)]
        # Candidates: every patch code of the global batch.
        codes, offset = gather_targets(z)
        mi = cpc_infonce(preds, codes, offset)
        return StepOutput(-mi, {"infonce": mi}, z.mean((2, 3)), batch.labels)
