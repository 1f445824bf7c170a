"""Throughput of a full training step per preset and precision, against the GEMM peak
measured in the same run: ``infomax bench speed`` with its JSON written to
benchmarks/results/train_step.json unless --json is given.

    python benchmarks/train_step.py --presets fmnist-tiny cifar10-small --precision 32 bf16-mixed
"""

from __future__ import annotations

import sys
from pathlib import Path

from infomax.cli import main

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "train_step.json"

if __name__ == "__main__":
    argv = sys.argv[1:]
    if "--json" not in argv:
        argv += ["--json", str(DEFAULT_JSON)]
    raise SystemExit(main(["bench", "speed", *argv]))
