"""``infomax embed``: frozen features, labels and image identities to a file for use
elsewhere (numpy's .npz always; Parquet when pyarrow is installed), for the splits of a
data set (``export_embeddings``) or for any image files (``export_image_embeddings``)."""

from __future__ import annotations

import glob
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from infomax.data.registry import image_files_under, load_rgb
from infomax.devices import resolve_device
from infomax.errors import InfomaxError
from infomax.eval.features import checkpoint_features
from infomax.eval.pretrained import load_encoder
from infomax.files import atomic_write
from infomax.runs import load_method

FORMATS = (".npz", ".parquet")
# The split and label of the rows of image files given by --images.
IMAGES_SPLIT = "images"
NO_LABEL = -1
_GLOB_CHARACTERS = ("*", "?", "[")


def _check_output(output: str | Path) -> Path:
    out = Path(output)
    if out.suffix not in FORMATS:
        raise InfomaxError(f"-o {out}: the file name must end in .npz or .parquet")
    if out.suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise InfomaxError(f"-o {out}: Parquet needs pyarrow (pip install pyarrow); or "
                               f"write .npz") from None
    return out


def _write(out: Path, features: np.ndarray, labels: np.ndarray, ids: np.ndarray,
           split: np.ndarray, data: str) -> None:
    """The rows to ``out`` (.npz or .parquet), whole or not at all."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npz":
        atomic_write(out, lambda f: np.savez(f, features=features, labels=labels, ids=ids,
                                             split=split, data=np.array(data)))
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({
        "id": pa.array(ids.tolist(), type=pa.string()),
        "split": pa.array(split.tolist(), type=pa.string()),
        "label": pa.array(labels),
        "features": pa.FixedSizeListArray.from_arrays(pa.array(features.reshape(-1)),
                                                      features.shape[1]),
    })
    atomic_write(out, lambda f: pq.write_table(table.replace_schema_metadata({"data": data}),
                                               f))


def export_embeddings(checkpoint: str | Path, output: str | Path,
                      splits: list[str] | tuple[str, ...] = ("train", "test"),
                      data: str | None = None, data_dir: str | None = None,
                      num_workers: int | None = None, progress: bool = True,
                      device: str | torch.device | None = "auto"
                      ) -> tuple[Path, dict[str, int]]:
    """Write the features of every image of ``splits``, extracted on ``device`` ("auto" or
    None: CUDA when there is a GPU, else the CPU). Columns / arrays: ``features`` (N, D)
    float32, ``labels`` (N,) int64 (-1: unlabelled), ``ids`` (file path, or
    ``<data>:<split>:<index>``), ``split``. Returns the path and the image count per split.
    """
    out = _check_output(output)
    dev = resolve_device(device)
    # Loaded once for every split, and before the output folder is made: a missing or
    # damaged checkpoint leaves nothing behind.
    model = load_method(checkpoint)
    sets = [checkpoint_features(checkpoint, s, data, data_dir, model=model,
                                num_workers=num_workers, progress=progress, device=dev)
            for s in dict.fromkeys(splits)]
    features = np.concatenate([s.features.numpy().astype(np.float32) for s in sets])
    labels = np.concatenate([s.labels.numpy().astype(np.int64) for s in sets])
    ids = np.array([i for s in sets for i in s.ids])
    split = np.array([s.split for s in sets for _ in s.ids])
    _write(out, features, labels, ids, split, sets[0].data)
    return out, {s.split: len(s.ids) for s in sets}


def find_images(images: str | Path) -> list[str]:
    """The image files ``images`` names, sorted: every image file under a folder
    (recursively; hidden files left out; the extensions image folders take,
    ``infomax.data.registry.image_extensions``), the files a glob pattern matches
    (``**`` crosses folders), or a single file. InfomaxError where there are none."""
    text = str(images)
    path = Path(text).expanduser()
    if path.is_dir():
        found = image_files_under(path)
        if not found:
            raise InfomaxError(f"--images {text}: no image files in the folder or below it "
                               f"(.jpg, .png, .webp, ...)")
        return found
    if path.is_file():
        return [str(path)]
    if any(ch in text for ch in _GLOB_CHARACTERS):
        found = sorted(p for p in glob.glob(str(Path(text).expanduser()), recursive=True)
                       if Path(p).is_file())
        if not found:
            raise InfomaxError(f"--images {text}: the pattern matches no file")
        return found
    raise InfomaxError(f"--images {text}: no such folder or file; pass a folder of images, "
                       f"an image file or a glob pattern such as 'photos/**/*.jpg'")


class _ImageFiles(Dataset):
    """(test view of the image or None, its index, the reason it could not be read)."""

    def __init__(self, paths: list[str], transform: Callable) -> None:
        self.paths, self.transform = paths, transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[Any, int, str]:
        try:
            return self.transform(load_rgb(self.paths[index])), index, ""
        except InfomaxError as e:
            return None, index, str(e)


def _collate(items: list[tuple[Any, int, str]]) -> tuple[torch.Tensor | None, list[int],
                                                           list[str]]:
    good = [(x, i) for x, i, _ in items if x is not None]
    images = torch.stack([x for x, _ in good]) if good else None
    return images, [i for _, i in good], [reason for x, _, reason in items if x is None]


@dataclass(frozen=True)
class ImageEmbeddings:
    """What ``export_image_embeddings`` wrote: the file, the images embedded and the
    messages of the files that could not be read (skipped)."""

    path: Path
    count: int
    unreadable: tuple[str, ...]


def export_image_embeddings(checkpoint: str | Path, images: str | Path, output: str | Path,
                            *, device: str | torch.device | None = None,
                            batch_size: int = 256, num_workers: int = 0,
                            progress: bool = True) -> ImageEmbeddings:
    """Write the features of the image files ``images`` names (a folder, a glob pattern
    or a file: ``find_images``), in that order, through the run's test view (each file
    decoded as image folders are, its channels and size brought to the run's). Columns /
    arrays as ``export_embeddings`` writes them: ``ids`` the paths, ``labels`` -1,
    ``split`` "images", ``data`` the ``images`` argument. A file that cannot be decoded is
    skipped, with one warning line naming it on stderr; InfomaxError when none can be.
    ``device``: as ``--device`` (None: CUDA when available, else the CPU)."""
    out = _check_output(output)
    if num_workers < 0:
        raise InfomaxError(f"--workers: {num_workers} must be >= 0")
    paths = find_images(images)
    encoder = load_encoder(checkpoint, device=device if device is not None else "auto")
    loader = DataLoader(_ImageFiles(paths, encoder.transform), batch_size=batch_size,
                        shuffle=False, num_workers=num_workers, collate_fn=_collate)
    feats, kept, unreadable = [], [], []
    bar = tqdm(total=len(paths), desc="image features", unit="img", disable=not progress,
               leave=False)
    with bar:
        for batch, indices, reasons in loader:
            for reason in reasons:
                unreadable.append(reason)
                tqdm.write(f"infomax: warning: skipped: {reason}", file=sys.stderr)
            if batch is not None:
                feats.append(encoder.embed(batch, batch_size=batch_size).cpu())
                kept += indices
            bar.update(len(indices) + len(reasons))
    if not kept:
        raise InfomaxError(f"--images {images}: none of the {len(paths)} files could be read "
                           f"as an image (first: {unreadable[0]})")
    features = torch.cat(feats).numpy().astype(np.float32)
    ids = np.array([paths[i] for i in kept])
    _write(out, features, np.full(len(kept), NO_LABEL, dtype=np.int64), ids,
           np.array([IMAGES_SPLIT] * len(kept)), str(images))
    return ImageEmbeddings(out, len(kept), tuple(unreadable))
