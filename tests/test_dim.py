"""Local DIM: the loss against a float64 loop reference, end-to-end training through the
CLI, and two processes equal to one on the global batch."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from infomax.cli import main
from infomax.config import make_config
from infomax.losses import amdim_pair_nce
from infomax.losses.dim import dim_loss
from infomax.methods import METHODS, Batch
from infomax.nn.global_bn import convert_global_batchnorm

from ddp_utils import free_port, for_equivalence
from conftest import tiny_args
from test_estimators import logsumexp, softplus

GLOBAL_BATCH = 8
WORLD = 2


def reference_dim(src, trg, estimator, local_weight, global_weight, pos_offset=0):
    """Hjelm et al. 2019's local (and global) objective, pair by pair in float64 numpy."""
    src, trg = np.asarray(src, np.float64), np.asarray(trg, np.float64)
    b, n, locs = src.shape[0], trg.shape[0], trg.shape[2]

    def term(score, per):  # score(i, c, l) for l < per
        pos = [(i, i + pos_offset, l) for i in range(b) for l in range(per)]
        neg = [(i, c, l) for i in range(b) for c in range(n) if c != i + pos_offset
               for l in range(per)]
        P = [score(*p) for p in pos]
        N = [score(*q) for q in neg]
        if estimator == "jsd":
            return np.mean([-softplus(-v) for v in P]) - np.mean([softplus(v) for v in N])
        if estimator == "dv":
            return np.mean(P) - (logsumexp(N) - math.log(len(N)))
        out = []  # infonce: each positive location against the other images' locations
        for i, c, l in pos:
            negs = [score(i, c2, l2) for c2 in range(n) if c2 != c for l2 in range(per)]
            out.append(score(i, c, l) - logsumexp([score(i, c, l), *negs])
                       + math.log(1 + len(negs)))
        return np.mean(out)

    local = term(lambda i, c, l: float(src[i] @ trg[c, :, l]), locs)
    pooled = trg.mean(2)
    glob = term(lambda i, c, l: float(src[i] @ pooled[c]), 1) if global_weight else 0.0
    return -(local_weight * local + global_weight * glob), local, glob


@pytest.mark.parametrize("estimator", ["jsd", "infonce", "dv"])
@pytest.mark.parametrize("global_weight,offset", [(0.0, 0), (0.5, 2)])
def test_dim_loss_matches_float64_reference(estimator, global_weight, offset):
    g = torch.Generator().manual_seed(0)
    src = torch.randn(4, 6, generator=g, dtype=torch.float64)
    trg = torch.randn(7, 6, 5, generator=g, dtype=torch.float64)
    out = dim_loss(src, trg, estimator, local_weight=0.7, global_weight=global_weight,
                   pos_offset=offset)
    ref = reference_dim(src, trg, estimator, 0.7, global_weight, offset)
    for got, want in zip(out, ref):
        assert got.item() == pytest.approx(want, rel=1e-10, abs=1e-12)
    out32 = dim_loss(src.float(), trg.float(), estimator, local_weight=0.7,
                     global_weight=global_weight, pos_offset=offset)
    assert out32.total.dtype == torch.float32
    assert out32.total.item() == pytest.approx(ref[0], rel=1e-5)


def test_dim_infonce_is_amdims_unclipped_nce():
    """Local DIM's InfoNCE with scaled scores is AMDIM's global-to-local NCE without the
    clip, up to the constant log(1 + (N - 1) L)."""
    g = torch.Generator().manual_seed(1)
    src = torch.randn(6, 16, generator=g, dtype=torch.float64)
    trg = torch.randn(6, 16, 5, generator=g, dtype=torch.float64)
    nce, _ = amdim_pair_nce(src, trg, None, reg_coef=0.0)
    mi = dim_loss(src / 4.0, trg, "infonce").local
    assert (-mi).item() == pytest.approx(nce.item() - math.log(1 + 5 * 5), rel=1e-12)


def _read_losses(run):
    with open(run / "csv" / "metrics.csv", newline="") as f:
        return [float(r["train/loss"]) for r in csv.DictReader(f) if r.get("train/loss")]


@pytest.mark.parametrize("extra", [
    ["dim.estimator=jsd", "dim.embed_dim=16"],
    ["dim.estimator=dv", "dim.global_weight=0.5", "dim.embed_dim=16"],
    ["dim.estimator=infonce", "model.encoder=resnet18", "data.batch_size=8",
     "dim.embed_dim=16", "data.val_subset=16"],
])
def test_dim_trains_through_the_cli(fake_fmnist, tmp_path, extra):
    rc = main(tiny_args(fake_fmnist, tmp_path, "method=dim", "train.epochs=1",
                        "train.limit_train_batches=3", *extra))
    assert rc == 0
    assert "method: dim" in (tmp_path / "tiny" / "config.yaml").read_text()
    losses = _read_losses(tmp_path / "tiny")
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses)


# -- two processes (gloo) against one, float64 ---------------------------------------------


def build_model(method: str, overrides: list[str]):
    cfg = make_config("fmnist-tiny", ["model.ndf=8", "model.n_rkhs=32", "model.n_depth=1",
                                      "train.channels_last=false", f"method={method}",
                                      *overrides])
    torch.manual_seed(0)
    model = METHODS[method](cfg, num_classes=10, in_channels=1, image_size=32)
    return for_equivalence(model)


def _global_batch():
    g = torch.Generator().manual_seed(1)
    x1 = torch.randn(GLOBAL_BATCH, 1, 32, 32, generator=g, dtype=torch.float64)
    y = torch.randint(10, (GLOBAL_BATCH,), generator=g)
    return x1, y


class _Step(torch.nn.Module):
    def __init__(self, method):
        super().__init__()
        self.method = method

    def forward(self, x1, y):
        out = self.method.compute_losses(Batch((x1, x1), y))
        return out.ssl, out.probe, torch.stack([out.terms[k] for k in sorted(out.terms)])


def _worker(rank, port, method, overrides, out):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=WORLD)
    try:
        model = build_model(method, overrides)
        convert_global_batchnorm(model)  # what SSLMethod.setup does under DDP
        step = DistributedDataParallel(_Step(model))
        x1, y = _global_batch()
        share = slice(rank * GLOBAL_BATCH // WORLD, (rank + 1) * GLOBAL_BATCH // WORLD)
        loss, probe_loss, terms = step(x1[share], y[share])
        (loss + probe_loss).backward()  # DDP averages the gradients over the processes
        stats = torch.cat([loss.detach()[None], probe_loss.detach()[None], terms.detach()])
        dist.all_reduce(stats)
        if rank == 0:
            torch.save({"stats": stats / WORLD,
                        "grads": {n: p.grad.clone() for n, p in model.named_parameters()
                                  if p.grad is not None}}, out)
    finally:
        dist.destroy_process_group()


def check_two_processes_equal_one(method, overrides, tmp_path):
    """Loss, logged terms and every parameter gradient agree to 1e-9 relative."""
    out = tmp_path / "ddp.pt"
    mp.start_processes(_worker, args=(free_port(), method, overrides, str(out)),
                       nprocs=WORLD, start_method="spawn")
    ddp = torch.load(out, weights_only=True)
    model = build_model(method, overrides)
    x1, y = _global_batch()
    loss, probe_loss, terms = _Step(model)(x1, y)
    (loss + probe_loss).backward()
    stats = torch.cat([loss.detach()[None], probe_loss.detach()[None], terms.detach()])
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    torch.testing.assert_close(ddp["stats"], stats, rtol=1e-9, atol=1e-12)
    assert set(ddp["grads"]) == set(grads) and grads
    # Frozen AMDIM heads get none; every trainable parameter gets one.
    assert {n for n, p in model.named_parameters() if p.requires_grad} == set(grads)
    for name, g in grads.items():
        assert g.abs().max() > 0, name
        torch.testing.assert_close(ddp["grads"][name], g, rtol=1e-9, atol=1e-12,
                                   msg=lambda m, n=name: f"{n}: {m}")


@pytest.mark.slow
def test_two_processes_equal_one_process_on_the_global_batch(tmp_path):
    """DV, with the global term: its log-mean-exp over all negative pairs needs the
    all-reduce on top of the gathered targets (JSD and InfoNCE are plain means; JSD passed
    this test too, left out for time)."""
    check_two_processes_equal_one("dim", ["dim.estimator=dv", "dim.embed_dim=16",
                                          "dim.global_weight=0.5"], tmp_path)
