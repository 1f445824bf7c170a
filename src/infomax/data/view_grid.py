"""A picture of a run's views: for a few images of its pretraining set, the test-time view
and the two augmented views a pretraining step would see (``infomax views``).

Drawn with matplotlib's Agg canvas on a ``Figure`` (never pyplot), so the caller's backend
is left alone; the PNG is written whole or not at all.
"""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import torch

from infomax.config import Config, augment_kind
from infomax.data.autoaugment import resolve_policy
from infomax.data.registry import DatasetInfo
from infomax.data.source import DataSource
from infomax.data.views import TwoViews, test_view
from infomax.errors import InfomaxError
from infomax.files import atomic_write_bytes

__all__ = ["CELL_PX", "HEADER_PX", "draw_view_grid", "grid_pixels", "sample_views"]

CELL_PX = 160  # the side of one picture of the grid, margins included
HEADER_PX = 100  # the title and the column names above the first row
_DPI = 100
_TITLE_LINES = 4
_TITLE_WIDTH = 78  # characters per title line


def grid_pixels(images: int) -> tuple[int, int]:
    """(width, height) in pixels of the grid of ``images`` rows."""
    return 3 * CELL_PX, HEADER_PX + images * CELL_PX


def _pixels(x: torch.Tensor, info: DatasetInfo) -> np.ndarray:
    """A normalized float view (C, S, S) as pixels in [0, 1]: (S, S) for one channel, else
    (S, S, 3)."""
    mean = torch.tensor(info.mean, dtype=torch.float32).view(-1, 1, 1)
    std = torch.tensor(info.std, dtype=torch.float32).view(-1, 1, 1)
    out = (x.float() * std + mean).clamp(0, 1)
    return out[0].numpy() if out.shape[0] == 1 else out.permute(1, 2, 0).numpy()


def sample_views(cfg: Config, images: int = 8, seed: int = 0
                 ) -> tuple[DataSource, list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]]:
    """The data source of ``cfg`` and, for ``images`` images of its pretraining split (a
    fixed choice for ``seed``), (test view, first view, second view), normalized float32
    (C, S, S). The views are drawn as pretraining draws them: ``TwoViews`` with the run's
    views section and ``data.augment``, and with ``data.augment_device`` the photometric
    part by ``DevicePhotometric`` (on the CPU). The caller's RNG state is left alone."""
    if images < 1:
        raise InfomaxError(f"--images: {images} must be >= 1")
    source = DataSource.resolve(cfg.data)
    info = source.info
    dataset = source.build("pretrain", skip_unreadable=not cfg.data.strict)
    if len(dataset) == 0:
        raise InfomaxError(f"{source.name} has no pretraining images")
    chosen = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
    chosen = chosen[:images].tolist()
    kind = augment_kind(cfg.data.augment)
    strong = kind == "randaugment"  # on the device with data.augment_device
    on_device = cfg.data.augment_device
    two = TwoViews(info, kind, photometric=not on_device, views=cfg.views,
                   policy=cfg.data.augment_policy)
    clean = test_view(info, cfg.views)
    augment: tuple[Any, Any] | None = None
    if on_device:
        from infomax.data.device_views import DevicePhotometric  # imports kornia

        augment = tuple(DevicePhotometric(info, strong=strong, views=cfg.views.for_view(i))
                        for i in (0, 1))
    rows = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for index in chosen:
            img, _ = dataset[index]
            a, b = two(img)
            if augment is not None:
                a, b = augment[0](a[None])[0], augment[1](b[None])[0]
            rows.append((clean(img), a, b))
    return source, rows


def _title(cfg: Config, source: DataSource, images: int) -> str:
    info = source.info
    what = cfg.preset or "config"
    channels = "1 channel" if info.channels == 1 else f"{info.channels} channels"
    head = f"{what}: {source.name}, {info.image_size} px, {channels}; {images} images"
    changed = cfg.views.changed()
    settings = ", ".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}"
                         for k, v in changed.items()) if changed else "the defaults (AMDIM)"
    lines = [head, f"views: {settings}"]
    extra = []
    kind = augment_kind(cfg.data.augment)
    if kind == "randaugment":
        extra.append("data.augment=randaugment (RandAugment)")
    elif kind == "fast-autoaugment":
        policy = resolve_policy(cfg.data.augment_policy, source.info.image_size)
        extra.append(f"data.augment=fast-autoaugment (Fast AutoAugment, {policy} policy)")
    if cfg.data.augment_device:
        extra.append("data.augment_device=true (photometric part by kornia)")
    if extra:
        lines.append("; ".join(extra))
    wrapped = [part for line in lines for part in textwrap.wrap(line, _TITLE_WIDTH)]
    if len(wrapped) > _TITLE_LINES:
        wrapped = [*wrapped[:_TITLE_LINES - 1], wrapped[_TITLE_LINES - 1][:_TITLE_WIDTH - 3]
                   + "..."]
    return "\n".join(wrapped)


def draw_view_grid(cfg: Config, output: str | Path, images: int = 8, seed: int = 0) -> Path:
    """Write a PNG grid to ``output``: one row per image (``sample_views``), its test view
    and its two augmented views, de-normalized to pixels (1-channel data in gray), under a
    title naming the preset, the data and the views settings that differ from the
    defaults. ``grid_pixels(images)`` is its size (fewer rows when the split has fewer
    images). Returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out = Path(output)
    if out.suffix.lower() != ".png":
        raise InfomaxError(f"-o: {out} is not a .png file name; the grid is a PNG picture")
    source, rows = sample_views(cfg, images, seed)
    width, height = grid_pixels(len(rows))
    fig = Figure(figsize=(width / _DPI, height / _DPI), dpi=_DPI, facecolor="white")
    FigureCanvasAgg(fig)
    margin = 6
    fig.text(0.5, 1 - 4 / height, _title(cfg, source, len(rows)), ha="center", va="top",
             fontsize=7.5, linespacing=1.3)
    for col, name in enumerate(("test view", "view 1", "view 2")):
        fig.text((col + 0.5) * CELL_PX / width, 1 - (HEADER_PX - 4) / height, name,
                 ha="center", va="bottom", fontsize=9)
    gray = source.info.channels == 1
    for row, pictures in enumerate(rows):
        for col, x in enumerate(pictures):
            left = (col * CELL_PX + margin) / width
            bottom = 1 - (HEADER_PX + (row + 1) * CELL_PX - margin) / height
            ax = fig.add_axes((left, bottom, (CELL_PX - 2 * margin) / width,
                               (CELL_PX - 2 * margin) / height))
            image = _pixels(x, source.info)
            if gray:
                ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            else:
                ax.imshow(image, interpolation="nearest")
            ax.set_axis_off()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, facecolor="white")
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, buffer.getvalue())
    return out
