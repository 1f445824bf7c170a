"""JPEG decoding in the input pipeline: Pillow against torchvision.io.decode_jpeg against
tar shards, next to what a ResNet-50 train step consumes at 224 px.

    python benchmarks/loader_jpeg.py [--images 500] [--workers 0 1 2] [--json PATH]

Makes a folder of photo-like JPEGs (``--images`` of 375x500 px, quality 90: a few random
low-frequency sinusoids per channel, a smooth colour gradient and mild pixel noise, so that
they compress like photos: about 43 KB each, against about 170 KB for pure noise), then
runs ``infomax bench loader --data <folder> --image-size 128 224 --decoders pillow
torchvision shards`` (decoding alone, then the pretraining loader with two views: AMDIM's
at 128 px, ResNet/SimCLR ones at 224 px), and in the same run the fp32 train-step images/s
of SimCLR with model.encoder=resnet50 at data.image_size=224 (``infomax bench speed``'s
measurement, random inputs). Writes benchmarks/results/loader_jpeg/loader_jpeg.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
DEFAULT_JSON = HERE / "results" / "loader_jpeg" / "loader_jpeg.json"
STEP = ["method=simclr", "model.encoder=resnet50", "data.image_size=224", "data.name=cifar10"]


def photo_like(rng: np.random.Generator, h: int = 375, w: int = 500) -> np.ndarray:
    """A smooth random image: per channel a gradient plus four random low-frequency
    sinusoids, and Gaussian noise of 4 grey levels."""
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    out = np.empty((h, w, 3))
    for c in range(3):
        gx, gy = rng.uniform(-80, 80, 2)
        channel = rng.uniform(60, 190) + gx * x + gy * y
        for _ in range(4):
            fx, fy = rng.uniform(0.5, 12, 2)
            channel += rng.uniform(10, 40) * np.sin(2 * np.pi * (fx * x + fy * y)
                                                    + rng.uniform(0, 2 * np.pi))
        out[:, :, c] = channel
    out += rng.normal(0, 4, out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def make_folder(folder: Path, n: int, seed: int = 0) -> int:
    """``n`` photo-like JPEGs (quality 90, 4:2:0) in ``folder``; returns their bytes."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(photo_like(rng)).save(folder / f"{i:05d}.jpg", quality=90)
    return sum(p.stat().st_size for p in folder.iterdir())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--batches", type=int, default=8, help="timed batches per repeat")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--step-batch", type=int, default=8, help="ResNet-50 train-step batch")
    ap.add_argument("--json", default=str(DEFAULT_JSON))
    args = ap.parse_args()

    from infomax.config import make_config
    from infomax.engine import bench
    from infomax.engine.speed import measure_train_step

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="loader-jpeg-") as tmp:
        folder = Path(tmp) / "jpegs"
        size = make_folder(folder, args.images)
        print(f"{args.images} JPEGs, {size / args.images / 1e3:.1f} KB each, in {folder}",
              file=sys.stderr)
        command = " ".join(["python", "benchmarks/loader_jpeg.py", *sys.argv[1:]])
        out = bench.decoders(str(folder), [128, 224], ["pillow", "torchvision", "shards"],
                             args.workers, batch_size=args.batch_size, batches=args.batches,
                             repeats=args.repeats, command=command)
    out["folder"] = {"images": args.images, "size_px": [375, 500], "jpeg_quality": 90,
                     "mean_bytes": size / args.images,
                     "made_by": "benchmarks/loader_jpeg.py photo_like (seed 0)"}
    cfg = make_config("cifar10-small", STEP)
    step = measure_train_step(cfg, batch_size=args.step_batch, steps=2, warmup=0)
    out["train_step"] = {"overrides": STEP, "batch_size": args.step_batch,
                         "precision": "32", "device": step["device"],
                         "images_per_s": step["images_per_s"],
                         "seconds_per_step": step["seconds_per_step"],
                         "input_shape": step["input_shape"]}
    out["seconds"] = time.perf_counter() - started
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(bench.format_decoder_table(out))
    print(f"ResNet-50 (SimCLR) fp32 train step at 224 px, batch {args.step_batch}: "
          f"{step['images_per_s']:.1f} images/s on {step['device']}")
    print(f"wrote {path} ({out['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
