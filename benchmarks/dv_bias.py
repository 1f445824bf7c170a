"""How far DV's batch estimate overshoots the true MI with the analytic optimal critic.

    python benchmarks/dv_bias.py [--batches 2000] [--mi 2 4 6 8 10] [--seed 1]

The Gaussian study's test draws 50 batches of 128 per MI value; here many more batches
(float64, the same sampler and critic as `infomax study gaussian`) pin down the expected
bias of DV's batch estimate, mean_i f_ii - log mean_{i != j} e^{f_ij}, and say how many
standard errors of a 50-batch mean it amounts to. NWJ (with f* + 1) on the same batches is
the unbiased control.
"""

from __future__ import annotations

import argparse
import math

import torch

from infomax.studies import gaussian


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batches", type=int, default=2000)
    ap.add_argument("--mi", type=float, nargs="+", default=[2.0, 4.0, 6.0, 8.0, 10.0])
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--dim", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    gen = torch.Generator().manual_seed(args.seed)
    print(f"{args.batches} batches of {args.batch_size} pairs, d = {args.dim}, optimal critic")
    print("  I | estimator | mean    | bias (nats) | s.e. of the mean | bias in s.e. of a "
          "50-batch mean")
    for mi in args.mi:
        est = gaussian.optimal_estimates(("dv", "nwj"), mi, args.dim, args.batch_size,
                                         args.batches, gen)
        for name, v in est.items():
            mean, sd = v.mean().item(), v.std().item()
            se = sd / math.sqrt(v.numel())
            print(f"{mi:3g} | {name:9s} | {mean:7.3f} | {mean - mi:+11.3f} | {se:16.3f} | "
                  f"{(mean - mi) / (sd / math.sqrt(50)):+.1f}")


if __name__ == "__main__":
    main()
