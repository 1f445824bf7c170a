"""Momentum networks and MoCo's key queue (infomax.nn.momentum)."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from infomax.nn.momentum import KeyQueue, byol_momentum, ema_update_

from ddp_utils import free_port


def _net() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3)).double()


def test_ema_update_is_the_rule_for_parameters_and_copies_buffers():
    torch.manual_seed(0)
    online, target = _net(), _net()
    online(torch.randn(8, 4, dtype=torch.float64))  # online BN running stats move
    before = {n: p.clone() for n, p in target.named_parameters()}
    m = 0.9
    ema_update_(target, online, m)
    for (n, pt), (_, po) in zip(target.named_parameters(), online.named_parameters()):
        # To rounding (the update may use a fused multiply-add).
        torch.testing.assert_close(pt, m * before[n] + (1 - m) * po, rtol=1e-15, atol=1e-16)
    for bt, bo in zip(target.buffers(), online.buffers()):
        assert torch.equal(bt, bo)
    # m = 1 freezes, m = 0 copies
    frozen = copy.deepcopy(target)
    ema_update_(target, online, 1.0)
    assert all(torch.equal(a, b) for a, b in zip(target.parameters(), frozen.parameters()))
    ema_update_(target, online, 0.0)
    for a, b in zip(target.parameters(), online.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-15, atol=1e-16)


def test_ema_update_refuses_different_structures():
    with pytest.raises(ValueError):
        ema_update_(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2)), 0.5)


def test_byol_cosine_schedule_endpoints_and_midpoint():
    assert byol_momentum(0.996, 0, 100) == pytest.approx(0.996, abs=1e-15)
    assert byol_momentum(0.996, 100, 100) == pytest.approx(1.0, abs=1e-15)
    assert byol_momentum(0.996, 50, 100) == pytest.approx(0.998, abs=1e-15)
    k = 30
    expected = 1 - (1 - 0.99) * (math.cos(math.pi * k / 90) + 1) / 2
    assert byol_momentum(0.99, k, 90) == pytest.approx(expected, rel=1e-15)
    assert byol_momentum(0.99, 500, 90) == 1.0  # past the end: stays at 1
    assert byol_momentum(0.99, 3, 0) == 0.99    # no known total: the base rate
    values = [byol_momentum(0.9, k, 20) for k in range(21)]
    assert values == sorted(values)


def test_queue_starts_as_unit_vectors_and_is_fifo_with_wraparound():
    torch.manual_seed(0)
    q = KeyQueue(dim=3, size=5)
    assert q.keys.shape == (5, 3)
    torch.testing.assert_close(q.keys.norm(dim=1), torch.ones(5))
    assert {"keys", "ptr"} <= set(q.state_dict())
    batch = lambda v, n: torch.full((n, 3), float(v)) + torch.arange(n)[:, None] * 0.1
    q.enqueue(batch(1, 2))          # rows 0, 1
    assert int(q.ptr) == 2
    q.enqueue(batch(2, 2))          # rows 2, 3
    q.enqueue(batch(3, 2))          # rows 4, then 0 (wraps; 2 does not divide 5)
    assert int(q.ptr) == 1
    rows = q.keys[:, 0].tolist()
    assert rows == pytest.approx([3.1, 1.1, 2.0, 2.1, 3.0])
    # A batch longer than the queue leaves its newest `size` keys, in FIFO positions.
    q.enqueue(torch.arange(7, dtype=torch.float32)[:, None].expand(7, 3))
    assert int(q.ptr) == (1 + 7) % 5
    # keys 2..6 at positions (1 + 2..6) % 5 = 3, 4, 0, 1, 2
    assert q.keys[:, 0].tolist() == [4.0, 5.0, 6.0, 2.0, 3.0]


def test_queue_resumes_exactly_from_its_state_dict():
    torch.manual_seed(0)
    a = KeyQueue(4, 6)
    a.enqueue(torch.randn(4, 4))
    b = KeyQueue(4, 6)
    b.load_state_dict(a.state_dict())
    new = torch.randn(4, 4)
    a.enqueue(new)
    b.enqueue(new)
    assert torch.equal(a.keys, b.keys) and int(a.ptr) == int(b.ptr)


def _queue_worker(rank: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=2)
    try:
        torch.manual_seed(0)  # the same initial queue on both ranks
        q = KeyQueue(2, 7)
        for step in range(3):  # 3 keys per rank, 6 per step: wraps around 7
            q.enqueue(torch.full((3, 2), 10.0 * step + rank))
        parts = [torch.empty_like(q.keys) for _ in range(2)]
        dist.all_gather(parts, q.keys)
        if rank == 0:
            torch.save({"parts": parts, "ptr": int(q.ptr)}, out)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_queue_is_identical_on_two_processes(tmp_path):
    out = tmp_path / "queue.pt"
    mp.start_processes(_queue_worker, args=(free_port(), str(out)), nprocs=2,
                       start_method="spawn")
    res = torch.load(out, weights_only=True)
    assert torch.equal(res["parts"][0], res["parts"][1])
    assert res["ptr"] == 18 % 7
    # One process enqueueing the gathered batches (rank order) gives the same queue.
    torch.manual_seed(0)
    q = KeyQueue(2, 7)
    for step in range(3):
        q.enqueue(torch.cat([torch.full((3, 2), 10.0 * step + r) for r in range(2)]))
    assert torch.equal(q.keys, res["parts"][0])
