"""``infomax embed``: frozen features, labels and image identities to a file for use
elsewhere (numpy's .npz always; Parquet when pyarrow is installed)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from infomax.devices import resolve_device
from infomax.errors import InfomaxError
from infomax.eval.features import checkpoint_features
from infomax.runs import load_method

FORMATS = (".npz", ".parquet")


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
    out = Path(output)
    if out.suffix not in FORMATS:
        raise InfomaxError(f"-o {out}: the file name must end in .npz or .parquet")
    if out.suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise InfomaxError(f"-o {out}: Parquet needs pyarrow (pip install pyarrow); or "
                               f"write .npz") from None
    dev = resolve_device(device)
    # Loaded once for every split, and before the output folder is made: a missing or
    # damaged checkpoint leaves nothing behind.
    model = load_method(checkpoint)
    out.parent.mkdir(parents=True, exist_ok=True)
    sets = [checkpoint_features(checkpoint, s, data, data_dir, model=model,
                                num_workers=num_workers, progress=progress, device=dev)
            for s in dict.fromkeys(splits)]
    features = np.concatenate([s.features.numpy().astype(np.float32) for s in sets])
    labels = np.concatenate([s.labels.numpy().astype(np.int64) for s in sets])
    ids = np.array([i for s in sets for i in s.ids])
    split = np.array([s.split for s in sets for _ in s.ids])
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}{out.suffix}")
    if out.suffix == ".npz":
        np.savez(tmp, features=features, labels=labels, ids=ids, split=split,
                 data=np.array(sets[0].data))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({
            "id": pa.array(ids.tolist()), "split": pa.array(split.tolist()),
            "label": pa.array(labels),
            "features": pa.FixedSizeListArray.from_arrays(pa.array(features.reshape(-1)),
                                                          features.shape[1]),
        })
        pq.write_table(table.replace_schema_metadata({"data": sets[0].data}), tmp)
    os.replace(tmp, out)
    return out, {s.split: len(s.ids) for s in sets}
