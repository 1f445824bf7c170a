"""Instance discrimination (Wu et al. 2018): the NCE loss against its equations, training
through the CLI, and the bank in checkpoints and across processes."""

from __future__ import annotations

import math

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from infomax.config import make_config
from infomax.losses.instdisc import estimate_log_partition, instdisc_nce_loss
from infomax.methods import METHODS, Batch

from ddp_utils import free_port
from conftest import tiny_args


def _reference_nce(pos, neg, z, n):
    """Eqs. (3)-(6) term by term in float64 Python arithmetic."""
    b, m = len(neg), len(neg[0])
    pn = 1.0 / n
    total = 0.0
    for i in range(b):
        p = math.exp(pos[i]) / z
        h = p / (p + m * pn)
        loss = -math.log(h)
        for j in range(m):
            p = math.exp(neg[i][j]) / z
            loss -= math.log(1.0 - p / (p + m * pn))
        total += loss
    return total / b


def test_nce_loss_matches_the_equations():
    g = torch.Generator().manual_seed(0)
    pos = torch.randn(6, generator=g, dtype=torch.float64) * 3
    neg = torch.randn(6, 9, generator=g, dtype=torch.float64) * 3
    n = 1000
    log_z = estimate_log_partition(neg, n)
    z = n * torch.exp(neg).mean().item()  # the Monte Carlo estimate, Eq. (5)
    assert math.isclose(log_z.item(), math.log(z), rel_tol=1e-12)
    got = instdisc_nce_loss(pos, neg, log_z, n)
    ref = _reference_nce(pos.tolist(), neg.tolist(), z, n)
    assert math.isclose(got.item(), ref, rel_tol=1e-10)
    # float32 inputs: the same within float32 rounding
    got32 = instdisc_nce_loss(pos.float(), neg.float(), log_z.float(), n)
    assert math.isclose(got32.item(), ref, rel_tol=1e-5)


def test_nce_loss_is_finite_at_a_small_temperature():
    pos = torch.tensor([1.0 / 0.07, -1.0 / 0.07])
    neg = torch.tensor([[1.0, -1.0], [1.0, 1.0]]) / 0.07
    loss = instdisc_nce_loss(pos, neg, estimate_log_partition(neg, 10**6), 10**6)
    assert torch.isfinite(loss)


def _model(**over):
    cfg = make_config("fmnist-tiny", ["method=instdisc", "model.ndf=8", "model.n_rkhs=32",
                                      "model.n_depth=1", "train.channels_last=false",
                                      "instdisc.num_negatives=16",
                                      *[f"{k}={v}" for k, v in over.items()]])
    return METHODS["instdisc"](cfg, num_classes=10, in_channels=1, image_size=32)


def test_step_uses_the_bank_and_updates_it_after_the_loss():
    torch.manual_seed(0)
    model = _model()
    model.init_memory(20)
    before = model.bank.bank.clone()
    x = torch.randn(4, 1, 32, 32)
    index = torch.tensor([3, 0, 7, 19])
    out = model.compute_losses(Batch((x, x.flip(3)), torch.arange(4), index=index))
    loss = out.ssl
    assert torch.isfinite(loss) and torch.isfinite(model.log_z)
    loss.backward()
    assert model.head.weight.grad.abs().sum() > 0
    changed = (model.bank.bank != before).any(1)
    assert changed.nonzero().flatten().tolist() == [0, 3, 7, 19]
    # The bank's new rows: 0.5 old + 0.5 current features, renormalized.
    with torch.no_grad():
        z = torch.nn.functional.normalize(model.head(model.encoder.embed(x)), dim=1)
    expect = torch.nn.functional.normalize(0.5 * before[index] + 0.5 * z, dim=1)
    torch.testing.assert_close(model.bank.bank[index], expect, rtol=1e-5, atol=1e-6)
    # Z is estimated once: a second step keeps it.
    log_z = model.log_z.clone()
    model.compute_losses(Batch((x, x), torch.arange(4), index=index))
    assert torch.equal(model.log_z, log_z)


def test_pretrain_through_the_cli_and_load_the_bank(fake_fmnist, tmp_path):
    from infomax.cli import main
    from infomax.runs import load_method

    rc = main(tiny_args(fake_fmnist, tmp_path, "method=instdisc", "instdisc.num_negatives=32",
                        "train.epochs=1", "train.limit_train_batches=3", "data.val_subset=32"))
    assert rc == 0
    ckpt = tmp_path / "tiny" / "last.ckpt"
    state = torch.load(ckpt, weights_only=True, map_location="cpu")["state_dict"]
    assert state["bank.bank"].shape == (256, 128)
    model = load_method(ckpt)
    torch.testing.assert_close(model.bank.bank, state["bank.bank"], rtol=0, atol=0)
    torch.testing.assert_close(model.log_z, state["log_z"], rtol=0, atol=0)
    assert torch.isfinite(model.log_z)
    torch.testing.assert_close(model.bank.bank.norm(dim=1), torch.ones(256))
    # 3 steps of 32 images: exactly their 96 rows moved away from the seeded initial bank
    fresh = _model()
    fresh.init_memory(256)
    assert int((model.bank.bank != fresh.bank.bank).any(1).sum()) == 96
    assert model.encoder.embed(torch.randn(2, 1, 32, 32)).shape == (2, model.encoder.feature_dim)


def _ddp_worker(rank: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=2)
    try:
        torch.manual_seed(0)
        model = _model()
        model.init_memory(12)  # from the run's seed: the same bank on both processes
        torch.manual_seed(1 + rank)  # as SSLMethod.setup: per-process streams
        x = torch.randn(3, 1, 32, 32)
        index = torch.tensor([[0, 5, 6], [1, 2, 11]][rank])
        model.compute_losses(Batch((x, x), torch.zeros(3, dtype=torch.long), index=index))
        state = torch.cat([model.bank.bank.flatten(), model.log_z.float()[None]])
        parts = [torch.empty_like(state) for _ in range(2)]
        dist.all_gather(parts, state)
        if rank == 0:
            torch.save(torch.stack(parts), out)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_processes_keep_identical_banks_and_partition(tmp_path):
    out = tmp_path / "state.pt"
    mp.start_processes(_ddp_worker, args=(free_port(), str(out)), nprocs=2,
                       start_method="spawn")
    parts = torch.load(out, weights_only=True)
    torch.testing.assert_close(parts[0], parts[1], rtol=0, atol=0)
    torch.manual_seed(0)
    fresh = _model()
    fresh.init_memory(12)
    changed = (parts[0][:-1].view(12, -1) != fresh.bank.bank).any(1)
    assert changed.nonzero().flatten().tolist() == [0, 1, 2, 5, 6, 11]
