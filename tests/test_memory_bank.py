"""The memory bank (Wu et al. 2018, Sec. 3.2): exact momentum update, uniform sampling,
checkpoint loading of another size, identical banks on every process."""

from __future__ import annotations

import math

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from infomax.nn.memory import MemoryBank

from ddp_utils import free_port


def _unit(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def _bank(n=5, d=3, seed=0):
    bank = MemoryBank(n, d, torch.Generator().manual_seed(seed)).double()
    return bank


def test_initial_rows_are_random_unit_vectors_drawn_from_the_generator():
    a, b = _bank(50, 8, 1), _bank(50, 8, 1)
    torch.testing.assert_close(a.bank, b.bank)
    torch.testing.assert_close(a.bank.norm(dim=1), torch.ones(50, dtype=torch.float64))
    assert not torch.equal(a.bank, _bank(50, 8, 2).bank)
    assert "bank" in dict(a.named_buffers())  # checkpoints hold it


def test_update_is_the_momentum_rule_then_renormalization():
    bank = _bank()
    before = bank.bank.clone()
    index = torch.tensor([3, 1])
    feats = torch.tensor([[1.0, 2.0, 2.0], [0.0, -3.0, 4.0]], dtype=torch.float64) / 5.0
    m = 0.5
    bank.update(index, feats, m)
    for row, i in enumerate(index.tolist()):
        mixed = [m * before[i, j].item() + (1 - m) * feats[row, j].item() for j in range(3)]
        expect = torch.tensor(_unit(mixed), dtype=torch.float64)
        torch.testing.assert_close(bank.bank[i], expect, rtol=1e-14, atol=1e-15)
    untouched = [0, 2, 4]
    torch.testing.assert_close(bank.bank[untouched], before[untouched], rtol=0, atol=0)


def test_momentum_zero_stores_the_normalized_features():
    bank = _bank()
    f = torch.tensor([[3.0, 0.0, 4.0]], dtype=torch.float64)
    bank.update(torch.tensor([0]), f, 0.0)
    torch.testing.assert_close(bank.bank[0], torch.tensor([0.6, 0.0, 0.8], dtype=torch.float64))


def test_duplicate_indices_average_their_features_whatever_their_order():
    bank, other = _bank(), _bank()
    before = bank.bank.clone()
    g = torch.Generator().manual_seed(3)
    feats = torch.nn.functional.normalize(torch.randn(4, 3, generator=g, dtype=torch.float64), dim=1)
    index = torch.tensor([2, 0, 2, 2])
    bank.update(index, feats, 0.5)
    perm = torch.tensor([3, 1, 0, 2])
    other.update(index[perm], feats[perm], 0.5)
    torch.testing.assert_close(bank.bank, other.bank, rtol=0, atol=1e-15)
    mean2 = (feats[0] + feats[2] + feats[3]) / 3
    expect = torch.tensor(_unit((0.5 * before[2] + 0.5 * mean2).tolist()), dtype=torch.float64)
    torch.testing.assert_close(bank.bank[2], expect, rtol=1e-14, atol=1e-15)
    expect0 = torch.tensor(_unit((0.5 * before[0] + 0.5 * feats[1]).tolist()), dtype=torch.float64)
    torch.testing.assert_close(bank.bank[0], expect0, rtol=1e-14, atol=1e-15)


def test_sample_draws_k_uniform_indices_per_positive():
    bank = _bank(7, 2)
    idx = bank.sample(300, 50, generator=torch.Generator().manual_seed(0))
    assert idx.shape == (300, 50) and idx.dtype == torch.int64
    assert idx.min() == 0 and idx.max() == 6
    counts = torch.bincount(idx.flatten(), minlength=7).double()
    assert (counts / counts.sum() - 1 / 7).abs().max() < 0.01  # 15000 draws
    with pytest.raises(RuntimeError, match="empty"):
        MemoryBank(0, 2).sample(1, 1)


def test_a_bank_of_another_size_loads_a_checkpoint_bank():
    trained = _bank(9, 4)
    fresh = MemoryBank(0, 4).double()
    fresh.load_state_dict(trained.state_dict())
    torch.testing.assert_close(fresh.bank, trained.bank, rtol=0, atol=0)
    with pytest.raises(RuntimeError, match="size mismatch"):
        MemoryBank(0, 5).load_state_dict(trained.state_dict())


def _ddp_worker(rank: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=2)
    try:
        bank = _bank(10, 4)
        g = torch.Generator().manual_seed(10 + rank)  # each process its own features
        feats = torch.randn(3, 4, generator=g, dtype=torch.float64)
        index = torch.tensor([[0, 4, 7], [1, 4, 9]][rank])  # 4 on both: a duplicate
        bank.update(index, feats, 0.5)
        banks = [torch.empty_like(bank.bank) for _ in range(2)]
        dist.all_gather(banks, bank.bank)
        if rank == 0:
            torch.save(torch.stack(banks), out)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_every_process_applies_every_process_update(tmp_path):
    out = tmp_path / "banks.pt"
    mp.start_processes(_ddp_worker, args=(free_port(), str(out)), nprocs=2,
                       start_method="spawn")
    banks = torch.load(out, weights_only=True)
    torch.testing.assert_close(banks[0], banks[1], rtol=0, atol=0)
    ref = _bank(10, 4)
    feats = torch.cat([torch.randn(3, 4, generator=torch.Generator().manual_seed(10 + r),
                                   dtype=torch.float64) for r in range(2)])
    ref.update(torch.tensor([0, 4, 7, 1, 4, 9]), feats, 0.5)
    torch.testing.assert_close(banks[0], ref.bank, rtol=0, atol=1e-15)
