"""AMDIM's ablation on Fashion-MNIST at a CPU budget: `infomax ablate` on the fmnist-tiny
preset, every row trained for the same number of steps from the same seed, then the same
offline linear probe and kNN.

    python benchmarks/ablation_fmnist.py [--steps 300] [--seeds 0] [--rows ...] [key=value ...]

Runs go to benchmarks/runs/fmnist-tiny-ablation; the results (JSON, the table in Markdown
and the chart) are copied to benchmarks/results/ablation_fmnist.*. Rows already measured
with the same settings are kept (see `infomax ablate --help`).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from earlier_recipe import EARLIER_RECIPE
from infomax.studies.ablation import ROW_NAMES, ablate

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=300, help="pretraining steps per row")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--rows", nargs="+", default=list(ROW_NAMES), choices=ROW_NAMES)
    ap.add_argument("--again", action="store_true", help="re-run rows already measured")
    ap.add_argument("--out", default=str(HERE / "runs"))
    ap.add_argument("overrides", nargs="*", metavar="key=value", help="for every row")
    args = ap.parse_args()
    # As the results in BENCHMARKS.md were measured (before the preset's demo schedule and
    # online probes).
    folder = ablate("fmnist-tiny", rows=args.rows, seeds=args.seeds, steps=args.steps,
                    out=args.out, overrides=[*EARLIER_RECIPE, *args.overrides],
                    again=args.again,
                    progress=False)
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    for suffix in ("json", "md", "png"):
        shutil.copyfile(folder / f"ablation.{suffix}", results / f"ablation_fmnist.{suffix}")
    print(f"copied to {results}/ablation_fmnist.{{json,md,png}}")


if __name__ == "__main__":
    main()
