"""Throughput of a full AMDIM training step per preset and precision, against the GEMM peak
measured in the same run.

    python benchmarks/train_step.py --presets fmnist-tiny cifar10-small --precision 32 bf16-mixed

Prints a table (one row per preset and precision) and writes every number, the FLOP
breakdown (encoder / loss / probes) and the machine's description to a JSON file. No data
files are read: the inputs are random tensors of the data set's shape.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from infomax.config import make_config
from infomax.engine.speed import (DEFAULT_GEMM_SIZES, PRECISIONS, format_table, machine_info,
                                  measure_gemm_peak, measure_train_step, precision_dtype)

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "train_step.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", nargs="+", default=["fmnist-tiny", "cifar10-small"])
    p.add_argument("--precision", nargs="+", default=["32"], choices=PRECISIONS)
    p.add_argument("--batch-size", type=int, default=None,
                   help="images per step (default: each preset's data.batch_size)")
    p.add_argument("--steps", type=int, default=5, help="timed steps (median reported)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps before them")
    p.add_argument("--max-seconds", type=float, default=None,
                   help="time budget per preset and precision for warmup + timed steps "
                        "(at least one step is timed)")
    p.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                   help="config override applied to every preset, e.g. train.channels_last=false")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    p.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    p.add_argument("--gemm-sizes", type=int, nargs="+", default=list(DEFAULT_GEMM_SIZES),
                   help="square matmul sizes tried for the GEMM peak")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"default: {DEFAULT_JSON}")
    return p.parse_args(argv)


def fmt_breakdown(r: dict) -> str:
    parts = ", ".join(f"{k} {100 * v:.1f}%" for k, v in r["flop_share"].items()
                      if k != "optimizer")
    f = r["flops"]
    enc = f["encoder"]
    return (f"{r['preset']} {r['precision']}: FLOP share {parts}; encoder forward "
            f"{enc['forward'] / 1e9:.2f} GFLOP, backward {enc['backward'] / 1e9:.2f} GFLOP")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")

    # The GEMM peak of every compute dtype needed (and always float32), before any model.
    dtypes = {torch.float32} | {precision_dtype(p) for p in args.precision}
    peaks = {}
    for dtype in sorted(dtypes, key=str):
        peaks[dtype] = measure_gemm_peak(dtype, n=tuple(args.gemm_sizes), device=device)
        print(f"GEMM peak {str(dtype).removeprefix('torch.')}: {peaks[dtype]:.1f} GFLOP/s",
              file=sys.stderr, flush=True)

    out = {
        "command": " ".join(["benchmarks/train_step.py"]
                            + (argv if argv is not None else sys.argv[1:])),
        "machine": machine_info(device),
        "gemm_peak_gflops": {str(k).removeprefix("torch."): v for k, v in peaks.items()},
        "gemm_sizes": args.gemm_sizes,
        "results": [],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    results = out["results"]
    for preset in args.presets:
        cfg = make_config(preset, args.override)
        for precision in args.precision:
            r = measure_train_step(cfg, batch_size=args.batch_size, steps=args.steps,
                                   warmup=args.warmup, precision=precision, device=device,
                                   max_seconds=args.max_seconds,
                                   gemm_peak=peaks[precision_dtype(precision)])
            r["fraction_of_fp32_peak"] = r["achieved_gflops"] / peaks[torch.float32]
            results.append(r)
            # Written after every measurement: a long run that is cut short keeps its rows.
            args.json.write_text(json.dumps(out, indent=2) + "\n")
            print(f"{preset} {precision}: {r['seconds_per_step'] * 1e3:.0f} ms/step, "
                  f"{r['images_per_s']:.1f} img/s", file=sys.stderr, flush=True)

    print(format_table(results))
    print()
    for r in results:
        print(fmt_breakdown(r))
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
