"""Feature extraction throughput: images/s of ``checkpoint_features`` (the frozen encoder
over a whole split, test-time views, the DataLoader included) for one checkpoint, the
cache off, with a JSON line per repeat.

    python benchmarks/feature_extraction.py runs/fmnist-tiny/last.ckpt --split train
    python benchmarks/feature_extraction.py CKPT --device cuda --repeats 2 --json out.json
"""

from __future__ import annotations

import argparse
import inspect
import json
import time
from pathlib import Path

import torch

from infomax.engine.speed import machine_info
from infomax.eval.features import checkpoint_features
from infomax.runs import load_method


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint")
    p.add_argument("--split", default="train", choices=("train", "test"))
    p.add_argument("--data", help="data set (default: the run's)")
    p.add_argument("--data-dir")
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:N, mps")
    p.add_argument("--batch-size", type=int,
                   help="images per batch (default: the library's, extraction_batch_size)")
    p.add_argument("--workers", type=int, help="DataLoader workers (default: the run's)")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--json", help="write the results here too")
    args = p.parse_args()

    model = load_method(args.checkpoint)
    kwargs = {}
    if "device" in inspect.signature(checkpoint_features).parameters:
        kwargs["device"] = args.device  # versions before --device extract on the CPU
    if args.batch_size is not None:
        kwargs["batch_size"] = args.batch_size
    rows = []
    for r in range(args.repeats):
        t0 = time.perf_counter()
        fs = checkpoint_features(args.checkpoint, args.split, args.data, args.data_dir,
                                 model=model, num_workers=args.workers, progress=False,
                                 cache=False, **kwargs)
        seconds = time.perf_counter() - t0
        made = getattr(fs, "extraction", None) or {}
        row = {"repeat": r, "images": len(fs.labels), "seconds": round(seconds, 2),
               "images_per_s": round(len(fs.labels) / seconds, 1),
               "feature_dim": fs.features.shape[1],
               "batch_size": made.get("batch_size", args.batch_size or 256),
               "workers": made.get("workers", args.workers),
               "threads": torch.get_num_threads(), "device": made.get("device", "cpu"),
               "precision": made.get("precision", "fp32")}
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        device = None if args.device in (None, "auto") else args.device
        Path(args.json).write_text(json.dumps({"checkpoint": args.checkpoint,
                                               "machine": machine_info(device),
                                               "results": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
