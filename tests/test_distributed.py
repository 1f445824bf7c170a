"""Data parallelism keeps the objective: two processes (gloo, CPU) on halves of a global
batch give the loss and the parameter gradients of one process on the whole batch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

import infomax.losses.amdim as amdim_losses
from infomax.config import make_config
from infomax.dist import gather_targets
from infomax.methods import METHODS, Batch
from infomax.nn.global_bn import GlobalBatchNorm, convert_global_batchnorm

from ddp_utils import free_port, for_equivalence
from conftest import TINY

GLOBAL_BATCH = 8
WORLD = 2


def _content_locations(local: torch.Tensor, generator=None) -> torch.Tensor:
    """A stand-in for the random 5x5 location draw that depends only on each image's own
    features, so one process and two processes pick the same location for an image."""
    b, d, h, w = local.shape
    idx = (local.detach()[:, :, 0, 0].abs().sum(1) * 1e4).long() % (h * w)
    return local.flatten(2)[torch.arange(b), :, idx]


def _config(method: str, use_bn: bool):
    # (The preset's replay of recent features draws per process: not this equivalence.)
    over = ["model.ndf=8", "model.n_rkhs=32", "model.n_depth=1", "train.channels_last=false",
            f"model.use_bn={str(use_bn).lower()}", "probe.online_view=augmented",
            "probe.online_replay=0", "probe.online_ema=0"]
    return make_config("fmnist-tiny", [*over, f"method={method}"])


def _build(method: str, use_bn: bool):
    torch.manual_seed(0)
    model = METHODS[method](_config(method, use_bn), num_classes=10, in_channels=1,
                            image_size=32)
    return for_equivalence(model)


def _global_batch():
    g = torch.Generator().manual_seed(1)
    x1 = torch.randn(GLOBAL_BATCH, 1, 32, 32, generator=g, dtype=torch.float64)
    x2 = torch.randn(GLOBAL_BATCH, 1, 32, 32, generator=g, dtype=torch.float64)
    y = torch.randint(10, (GLOBAL_BATCH,), generator=g)
    return x1, x2, y


class _Step(torch.nn.Module):
    """The module DDP wraps: one batch's self-supervised and probe losses."""

    def __init__(self, method):
        super().__init__()
        self.method = method

    def forward(self, x1, x2, y):
        out = self.method.compute_losses(Batch((x1, x2), y))
        return out.ssl, out.probe, torch.stack([out.terms[k] for k in ("l1t5", "l1t7", "l5t5",
                                                                        "reg")])


def _worker(rank: int, port: int, method: str, use_bn: bool, sync_bn: bool, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=WORLD)
    try:
        amdim_losses.sample_locations = _content_locations
        model = _build(method, use_bn)
        if sync_bn:
            convert_global_batchnorm(model)  # what SSLMethod.setup does under DDP
        step = DistributedDataParallel(_Step(model))
        x1, x2, y = _global_batch()
        share = slice(rank * GLOBAL_BATCH // WORLD, (rank + 1) * GLOBAL_BATCH // WORLD)
        loss, probe_loss, terms = step(x1[share], x2[share], y[share])
        (loss + probe_loss).backward()  # DDP averages the gradients over the processes
        stats = torch.cat([loss.detach()[None], probe_loss.detach()[None], terms.detach()])
        dist.all_reduce(stats)
        if rank == 0:
            torch.save({"stats": stats / WORLD, "global_bn_layers": sum(
                isinstance(m, GlobalBatchNorm) for m in model.modules()),
                        "grads": {n: p.grad.clone() for n, p in model.named_parameters()
                                  if p.grad is not None}}, out)
    finally:
        dist.destroy_process_group()


def _single_process(method: str, use_bn: bool, monkeypatch):
    monkeypatch.setattr(amdim_losses, "sample_locations", _content_locations)
    model = _build(method, use_bn)
    x1, x2, y = _global_batch()
    loss, probe_loss, terms = _Step(model)(x1, x2, y)
    (loss + probe_loss).backward()
    stats = torch.cat([loss.detach()[None], probe_loss.detach()[None], terms.detach()])
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    return stats, grads


def _run_two_processes(method, use_bn, sync_bn, tmp_path):
    out = tmp_path / "ddp.pt"
    mp.start_processes(_worker, args=(free_port(), method, use_bn, sync_bn, str(out)),
                       nprocs=WORLD, start_method="spawn")
    return torch.load(out, weights_only=True)


@pytest.mark.slow
@pytest.mark.parametrize("method,use_bn", [("amdim", False), ("amdim", True)])
def test_two_processes_equal_one_process_on_the_global_batch(method, use_bn, tmp_path,
                                                             monkeypatch):
    """With synchronized BatchNorm (the default under DDP: AMDIM's encoder always ends in
    BatchNorms) the loss, each AMDIM term and every parameter gradient of two processes on
    halves of the batch equal those of one process on the whole batch."""
    ddp = _run_two_processes(method, use_bn, True, tmp_path)
    stats, grads = _single_process(method, use_bn, monkeypatch)
    # loss, probe loss, and each AMDIM term (1->5, 1->7, 5->5, regularizer)
    torch.testing.assert_close(ddp["stats"], stats, rtol=1e-10, atol=1e-10)
    assert set(ddp["grads"]) == set(grads)
    assert any(n.startswith("encoder.to5") and "bn" in n for n in grads) == use_bn
    assert ddp["global_bn_layers"] == (12 if use_bn else 3) + 1  # + the MLP probe's
    for name, g in grads.items():
        assert g.abs().max() > 0, name
        torch.testing.assert_close(ddp["grads"][name], g, rtol=1e-9, atol=1e-12,
                                   msg=lambda m, n=name: f"{n}: {m}")


@pytest.mark.slow
def test_per_process_batchnorm_changes_the_objective(tmp_path, monkeypatch):
    """Why BatchNorm is synchronized by default: with per-process statistics the final
    BatchNorms of the encoder normalize over half the batch and the loss is another one."""
    ddp = _run_two_processes("amdim", False, False, tmp_path)
    stats, _ = _single_process("amdim", False, monkeypatch)
    assert (ddp["stats"][0] - stats[0]).abs() > 1e-3


def _gather_worker(rank: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=WORLD)
    try:
        x = torch.full((3, 2), float(rank + 1), dtype=torch.float64, requires_grad=True)
        full, offset = gather_targets(x)
        # Each process weighs every row of the gathered tensor by (its rank + 1) * row index.
        w = (rank + 1) * torch.arange(full.shape[0], dtype=torch.float64)[:, None]
        (full * w).sum().backward()
        result = torch.cat([full.detach().flatten(), torch.tensor([offset]), x.grad.flatten()])
        parts = [torch.empty_like(result) for _ in range(WORLD)]
        dist.all_gather(parts, result)
        if rank == 0:
            torch.save(torch.stack(parts), out)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_gather_targets_concatenates_in_rank_order_and_sums_gradients(tmp_path):
    out = tmp_path / "gather.pt"
    mp.start_processes(_gather_worker, args=(free_port(), str(out)), nprocs=WORLD,
                       start_method="spawn")
    parts = torch.load(out, weights_only=True)
    full = torch.tensor([1.0] * 6 + [2.0] * 6, dtype=torch.float64)
    for rank in range(WORLD):
        got_full, offset, grad = parts[rank, :12], parts[rank, 12], parts[rank, 13:]
        torch.testing.assert_close(got_full, full)
        assert offset == 3 * rank
        # d/dx of sum over processes r of (r + 1) * row: (1 + 2) * row for this process's rows
        rows = torch.arange(3 * rank, 3 * rank + 3, dtype=torch.float64)
        torch.testing.assert_close(grad, (3 * rows[:, None]).expand(3, 2).flatten())


def test_gather_targets_is_the_identity_in_one_process():
    x = torch.randn(4, 3)
    full, offset = gather_targets(x)
    assert full is x and offset == 0


@pytest.mark.slow
def test_pretrain_runs_on_two_cpu_processes(fake_fmnist, tmp_path):
    """`infomax pretrain --devices 2 --strategy ddp` on the CPU: Lightning relaunches the
    command once per process; the run finishes and writes its checkpoint and summary."""
    env = {**os.environ, "INFOMAX_DATA": str(fake_fmnist), "OMP_NUM_THREADS": "1"}
    cmd = [str(Path(sys.executable).parent / "infomax"), "pretrain", "--preset", "fmnist-tiny",
           "--out", str(tmp_path), "--name", "ddp", "--no-progress", "--devices", "2",
           "--strategy", "ddp", *TINY, "data.batch_size=16", "train.limit_train_batches=3",
           "data.val_subset=32"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "ddp"
    assert (run / "last.ckpt").is_file()
    import json

    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 3
    ckpt = torch.load(run / "last.ckpt", weights_only=True, map_location="cpu")
    assert ckpt["hyper_parameters"]["config"]["train"]["devices"] == 2
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values())
