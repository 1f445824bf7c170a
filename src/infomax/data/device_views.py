"""The photometric part of the training views, batched on the accelerator with kornia.

``DevicePhotometric`` is the batched counterpart of ``views.photometric_view``: the DataLoader
workers then only run the cheap uint8 geometric part (``TwoViews(info, photometric=False)``)
and the training step's batch goes through this module on the GPU (or the CPU when there is
none), see ``PretrainData.on_after_batch_transfer``. Every sample draws its own parameters:
whether jitter and grayscale apply, the four jitter factors, and with ``strong`` the
RandAugment operations and their signs. The probabilities, jitter factors, blur and
solarization follow the run's ``views`` config section (one ``DevicePhotometric`` per view
where ``views.first`` / ``views.second`` set photometric keys of their own); the defaults
are the constants of ``views``. ``strong`` is ``data.augment=randaugment``; Fast AutoAugment
(``data.augment=fast-autoaugment``) has no counterpart here: the workers apply it to the
uint8 views after their geometric part (``views.worker_view``), before this module runs.

What differs from torchvision's ``photometric_view`` (checked against kornia 0.9.0):

* Precision: torchvision jitters the uint8 image and truncates to uint8 after every step
  (``_blend`` casts with ``.to(uint8)``, and contrast floors the grayscale mean); here
  the image is scaled to [0, 1] float32 first and every step works in float32 without
  quantization (each step clamps to [0, 1], as torchvision's clamps to 0..255).
* Jitter order: torchvision draws a random order of brightness, contrast, saturation and
  hue per image; kornia's ``ColorJitter`` draws one order per call, shared by the batch.
  Brightness, contrast (blend with the grayscale mean) and saturation (blend with the
  grayscale) are linear maps that commute exactly as long as nothing clips, so the shared
  order only matters through clipping and for hue relative to contrast and saturation.
* Factors and formulas otherwise match torchvision's: brightness multiplies, contrast blends
  with the mean of the grayscale image (of the image itself for 1 channel), saturation
  blends with the grayscale image, hue is a shift in HSV (kornia turns the factor in
  [-0.2, 0.2] into an angle of ``factor * 2 pi`` radians; torchvision adds it to the hue in
  turns: the same shift). kornia's grayscale weights are 0.299 / 0.587 / 0.114 against
  torchvision's 0.2989 / 0.587 / 0.114.
* Random grayscale: the same weights as above, in float (torchvision truncates to uint8).
* Gaussian blur (``views.blur_p``): kornia's ``RandomGaussianBlur`` with the kernel size and
  sigma range of the torchvision view and the same reflect padding, in float (torchvision
  rounds the result to uint8).
* Solarization (``views.solarize_p``): kornia's ``RandomSolarize`` at the fixed threshold
  127.5 / 255 with no addition, which inverts the same pixels as torchvision's threshold
  128 on uint8 (values >= 128 of 255).
* RandAugment (``strong``): kornia's ``RandAugment`` with ``n=2, m=9``, the number of
  operations and magnitude of torchvision's defaults (``num_ops=2``, ``magnitude=9`` of 31
  bins, the same fraction 9/30 of each range), but with kornia's own policy, which is not
  torchvision's:

  - the 15 candidates are auto_contrast, equalize, invert, rotate, posterize, solarize,
    solarize_add, color, contrast, brightness, sharpness, shear_x/y, translate_x/y;
    torchvision has identity and no invert or solarize_add;
  - at m = 9: rotate +-9 degrees (torchvision: the same) but bilinear instead of nearest;
    shear +-16.2 degrees about the centre (kornia multiplies the 0.09 by 180; torchvision
    shears by atan(0.09) = 5.1 degrees about the top-left corner); translate +-3 % of the side (+-0.96 px at 32 px; torchvision
    +-13.6 %, 4 px at 32 px); posterize to 6 bits (torchvision 7); solarize above 0.3
    (torchvision above 0.7); brightness, color, contrast and sharpness with the fixed
    factor 0.64 (torchvision 1 +- 0.27, random sign), and kornia's brightness adds
    ``factor - 1`` (darkens by 0.36) where torchvision multiplies, its contrast multiplies
    the image where torchvision blends with the mean, and its color scales the HSV
    saturation where torchvision blends with the grayscale image;
  - kornia draws the operations once per batch, without replacement; here
    ``_PerSampleRandAugment`` draws them per sample and with replacement, as torchvision
    does per image (one kornia call per operation drawn in the batch, up to 2 x 15 calls
    per view batch).
  - kornia's ``color`` operation refuses 1-channel images; they go through RandAugment as
    3 equal channels (every operation keeps them equal; color then leaves them unchanged,
    as torchvision's does on 1-channel images) and come back as one.
"""

from __future__ import annotations

import kornia.augmentation as K
import torch
from kornia.augmentation.auto import RandAugment
from torch import nn

from infomax.config import ViewsConfig
from infomax.data.registry import DatasetInfo
from infomax.data.views import (GRAYSCALE_P, JITTER, JITTER_P, SOLARIZE_THRESHOLD,
                                blur_kernel_size, jitter_values)

__all__ = ["DevicePhotometric"]

# torchvision's RandAugment defaults: 2 operations, magnitude 9 (a fraction 9 / 30 of each
# operation's range; kornia's m is that fraction times 30 as well).
RANDAUGMENT_OPS = 2
RANDAUGMENT_MAGNITUDE = 9


class _ChosenRandAugment(RandAugment):
    """kornia's RandAugment with one operation, the one ``chosen`` names (an index into
    the policy), instead of a random one."""

    def __init__(self, magnitude: int) -> None:
        super().__init__(n=1, m=magnitude)
        self.chosen = 0

    def rand_selector(self, n: int) -> torch.Tensor:
        return torch.tensor([self.chosen])


class _PerSampleRandAugment(nn.Module):
    """RandAugment with the operations drawn per sample (with replacement, as torchvision
    draws them per image): for each of ``num_ops`` rounds every sample draws one operation
    of kornia's default policy, and each operation drawn runs once on its samples."""

    def __init__(self, num_ops: int = RANDAUGMENT_OPS, magnitude: int = RANDAUGMENT_MAGNITUDE):
        super().__init__()
        self.num_ops = num_ops
        self.policy = _ChosenRandAugment(magnitude)
        self.num_choices = len(self.policy)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: float (B, 3, H, W) in [0, 1]."""
        batch = x.shape[0]
        for _ in range(self.num_ops):
            choice = torch.randint(self.num_choices, (batch,))  # on the CPU: no device sync
            out = torch.empty_like(x)
            for op in torch.unique(choice).tolist():
                rows = (choice == op).nonzero().flatten().to(x.device, non_blocking=True)
                self.policy.chosen = op
                out.index_copy_(0, rows, self.policy(x.index_select(0, rows)))
            x = out
        return x


class DevicePhotometric(nn.Module):
    """``views.photometric_view`` on a batch: uint8 (B, C, S, S) on any device in, float32
    normalized views of the same shape out, with per-sample random parameters.

    Steps: (``strong``) RandAugment on [0, 1] floats, color jitter with p = ``jitter_p``
    (brightness and contrast only for 1-channel data), random grayscale with
    p = ``grayscale_p`` (3-channel data only), Gaussian blur and solarization when
    ``views`` asks for them, normalization with ``info.mean`` and ``info.std``. ``views``
    (a ``ViewsConfig``, or one view's ``views.for_view(i)``; None: the defaults) gives the
    jitter, its strength and every probability; ``jitter_p`` and ``grayscale_p``, when
    given, override its. A step whose probability is 0 is left out. The module docstring
    lists what differs from torchvision's version. Random parameters come from torch's
    global CPU generator (kornia's default).
    """

    def __init__(self, info: DatasetInfo, strong: bool = False, *,
                 jitter_p: float | None = None, grayscale_p: float | None = None,
                 views: ViewsConfig | None = None) -> None:
        super().__init__()
        views = ViewsConfig() if views is None else views
        jitter_p = views.jitter_p if jitter_p is None else jitter_p
        grayscale_p = views.grayscale_p if grayscale_p is None else grayscale_p
        self.channels = info.channels
        self.strong = strong
        self.randaugment = _PerSampleRandAugment() if strong else None
        brightness, contrast, saturation, hue = jitter_values(views)
        steps: list[nn.Module] = []
        if info.channels == 1:
            # Saturation and hue leave 1-channel images alone (as in photometric_view).
            if jitter_p > 0 and any((brightness, contrast)):
                steps.append(K.ColorJitter(brightness, contrast, p=jitter_p))
        else:
            if jitter_p > 0 and any((brightness, contrast, saturation, hue)):
                steps.append(K.ColorJitter(brightness, contrast, saturation, hue, p=jitter_p))
            if grayscale_p > 0:
                steps.append(K.RandomGrayscale(p=grayscale_p))
        if views.blur_p > 0:
            steps.append(K.RandomGaussianBlur(blur_kernel_size(info.image_size),
                                              tuple(views.blur_sigma), p=views.blur_p))
        if views.solarize_p > 0:
            threshold = (SOLARIZE_THRESHOLD - 0.5) / 255
            steps.append(K.RandomSolarize(thresholds=(threshold, threshold),
                                          additions=(0.0, 0.0), p=views.solarize_p))
        self.register_buffer("mean", torch.tensor(info.mean, dtype=torch.float32), persistent=False)
        self.register_buffer("std", torch.tensor(info.std, dtype=torch.float32), persistent=False)
        self.steps = nn.Sequential(*steps, K.Normalize(mean=self.mean, std=self.std))

    def _apply(self, fn, recurse: bool = True):
        # kornia's Normalize keeps mean and std in a plain dict that .to() does not move;
        # point it at the moved buffers so that no step copies them to the device again.
        module = super()._apply(fn, recurse)
        normalize = self.steps[-1]
        normalize.flags["mean"] = self.mean
        normalize.flags["std"] = self.std
        return module

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.uint8:
            raise TypeError(f"expected a uint8 batch, got {x.dtype}")
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(f"expected a batch (B, {self.channels}, H, W), got shape {tuple(x.shape)}")
        # float32 throughout, also inside a mixed-precision autocast region
        with torch.autocast(x.device.type, enabled=False):
            out = x.to(torch.float32).mul_(1.0 / 255)
            if self.randaugment is not None:
                if self.channels == 1:
                    out = self.randaugment(out.repeat(1, 3, 1, 1))[:, :1].contiguous()
                else:
                    out = self.randaugment(out)
            return self.steps(out)

    @torch.no_grad()
    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Scaling to [0, 1] and normalization only (a test-time view): uint8 in, float32
        out."""
        if x.dtype != torch.uint8:
            raise TypeError(f"expected a uint8 batch, got {x.dtype}")
        return self.steps[-1](x.to(torch.float32).mul_(1.0 / 255))  # the views' Normalize

    def extra_repr(self) -> str:
        return f"channels={self.channels}, strong={self.strong}"
