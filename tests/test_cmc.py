"""CMC (Tian et al. 2019): the losses against loop references, the Lab split, training
through the CLI, checkpoints, and data parallelism of both negative sources."""

from __future__ import annotations

import math

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from infomax.config import make_config
from infomax.data.registry import dataset_info
from infomax.errors import ConfigError
from infomax.losses.cmc import bank_softmax_loss, batch_softmax_loss
from infomax.methods import METHODS, Batch
from infomax.methods.cmc import LAB_CENTER, LAB_HALF_RANGE
from infomax.nn.global_bn import convert_global_batchnorm

from ddp_utils import free_port, for_equivalence
from conftest import tiny_args

TAU = 0.07


def _neg_log_softmax0(logits):
    mx = max(logits)
    return -(logits[0] - mx - math.log(sum(math.exp(v - mx) for v in logits)))


def test_bank_loss_matches_a_loop_reference():
    g = torch.Generator().manual_seed(0)
    unit = lambda *s: torch.nn.functional.normalize(  # noqa: E731
        torch.randn(*s, generator=g, dtype=torch.float64), dim=-1)
    a, p, n = unit(5, 8), unit(5, 8), unit(5, 7, 8)
    got = bank_softmax_loss(a, p, n, TAU)
    ref = 0.0
    for b in range(5):
        logits = [float(a[b] @ p[b]) / TAU] + [float(a[b] @ n[b, k]) / TAU for k in range(7)]
        ref += _neg_log_softmax0(logits) / 5
    assert math.isclose(got.item(), ref, rel_tol=1e-10)
    assert math.isclose(bank_softmax_loss(a.float(), p.float(), n.float(), TAU).item(), ref,
                        rel_tol=1e-5)


def test_batch_loss_matches_a_loop_reference_with_an_offset():
    g = torch.Generator().manual_seed(1)
    z1 = torch.nn.functional.normalize(torch.randn(3, 6, generator=g, dtype=torch.float64), dim=1)
    z2 = torch.nn.functional.normalize(torch.randn(9, 6, generator=g, dtype=torch.float64), dim=1)
    got = batch_softmax_loss(z1, z2, TAU, pos_offset=3)
    ref = 0.0
    for b in range(3):
        others = [float(z1[b] @ z2[j]) / TAU for j in range(9) if j != 3 + b]
        ref += _neg_log_softmax0([float(z1[b] @ z2[3 + b]) / TAU, *others]) / 3
    assert math.isclose(got.item(), ref, rel_tol=1e-10)


def _cfg(*over, data="fashion-mnist"):
    return make_config("fmnist-tiny", ["method=cmc", f"data.name={data}", "model.ndf=8",
                                       "model.n_rkhs=32", "model.n_depth=1",
                                       "train.channels_last=false", "cmc.num_negatives=16",
                                       *over])


def _lab_model(*over):
    return METHODS["cmc"](_cfg(*over, data="cifar10"), num_classes=10, in_channels=3,
                          image_size=32)


def _normalize(rgb):
    info = dataset_info("cifar10")
    return (rgb - torch.tensor(info.mean).view(1, 3, 1, 1)) / torch.tensor(info.std).view(1, 3, 1, 1)


def test_lab_split_of_normalized_views():
    model = _lab_model()
    # a gray, a white, a black and a pure red pixel (sRGB, D65 white)
    rgb = torch.tensor([[0.5, 0.5, 0.5], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]
                       ).T.reshape(1, 3, 1, 4)
    l_view, ab_view = model.encoder.split_views(_normalize(rgb))
    assert l_view.shape == (1, 1, 1, 4) and ab_view.shape == (1, 2, 1, 4)
    known = torch.tensor([[53.389, 0.0, 0.0], [100.0, 0.0, 0.0], [0.0, 0.0, 0.0],
                          [53.241, 80.092, 67.203]]).T       # (3, 4) L, a, b
    expect = (known - torch.tensor(LAB_CENTER)[:, None]) / torch.tensor(LAB_HALF_RANGE)[:, None]
    got = torch.cat([l_view, ab_view], 1).reshape(3, 4)
    torch.testing.assert_close(got, expect, rtol=0, atol=1e-4)
    # grays: ab is 0, so the ab view is the fixed constant -centre / half range
    gray = torch.full((1, 3, 2, 2), 0.3)
    _, ab = model.encoder.split_views(_normalize(gray))
    const = -torch.tensor(LAB_CENTER[1:]) / torch.tensor(LAB_HALF_RANGE[1:])
    torch.testing.assert_close(ab, const.view(1, 2, 1, 1).expand(1, 2, 2, 2), rtol=0, atol=1e-4)
    # the whole gamut lands in [-1, 1]
    cube = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    cube[0, :, 0, :3] = torch.eye(3)
    lab = torch.cat(model.encoder.split_views(_normalize(cube)), 1)
    assert lab.abs().max() <= 1.0 + 1e-4


def test_lab_on_grayscale_data_is_a_config_error():
    with pytest.raises(ConfigError) as err:
        METHODS["cmc"](_cfg(), num_classes=10, in_channels=1, image_size=32)
    msg = str(err.value)
    assert "cmc.split" in msg and "cmc.split=views" in msg and "\n" not in msg


@pytest.mark.parametrize("negatives", ["bank", "batch"])
def test_lab_step_trains_both_encoders(negatives):
    torch.manual_seed(0)
    model = _lab_model(f"cmc.negatives={negatives}")
    assert model.encoder.enc1.in_channels == 1 and model.encoder.enc2.in_channels == 2
    if negatives == "bank":
        model.init_memory(10)
        before = (model.bank1.bank.clone(), model.bank2.bank.clone())
    x = torch.randn(4, 3, 32, 32)
    index = torch.tensor([0, 2, 4, 9])
    out = model.compute_losses(Batch((x, x), torch.arange(4), index=index))
    loss, probe_loss, logs, logits = out.ssl, out.probe, out.terms, out.logits
    assert torch.isfinite(loss) and set(logs) == {"v1_to_v2", "v2_to_v1"}
    torch.testing.assert_close(loss, logs["v1_to_v2"] + logs["v2_to_v1"])
    (loss + probe_loss).backward()
    for enc in (model.encoder.enc1, model.encoder.enc2):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in enc.parameters())
    assert logits["linear"].shape == (4, 10)
    feats = model.encoder.embed(x)
    assert feats.shape == (4, model.encoder.feature_dim)
    assert model.encoder.feature_dim == 2 * model.encoder.enc1.feature_dim
    assert model.encoder.in_channels == 3 and model.encoder.image_size == 32
    if negatives == "bank":
        for bank, old in zip((model.bank1, model.bank2), before):
            assert (bank.bank != old).any(1).nonzero().flatten().tolist() == [0, 2, 4, 9]


def test_pretrain_views_through_the_cli_and_load_the_banks(fake_fmnist, tmp_path):
    from infomax.cli import main
    from infomax.runs import load_method

    rc = main(tiny_args(fake_fmnist, tmp_path, "method=cmc", "cmc.split=views",
                        "cmc.num_negatives=32", "train.epochs=1", "train.limit_train_batches=3",
                        "data.val_subset=32"))
    assert rc == 0
    ckpt = tmp_path / "tiny" / "last.ckpt"
    state = torch.load(ckpt, weights_only=True, map_location="cpu")["state_dict"]
    model = load_method(ckpt)
    for name in ("bank1", "bank2"):
        assert state[f"{name}.bank"].shape == (256, 128)
        torch.testing.assert_close(getattr(model, name).bank, state[f"{name}.bank"], rtol=0, atol=0)
    x = torch.randn(2, 1, 32, 32)
    torch.testing.assert_close(model.encoder.embed(x), torch.cat(
        [model.encoder.enc1.embed(x), model.encoder.enc2.embed(x)], 1))


# -- data parallelism ----------------------------------------------------------------------
GLOBAL_BATCH = 8


def _build(negatives):
    torch.manual_seed(0)
    model = METHODS["cmc"](_cfg("cmc.split=views", f"cmc.negatives={negatives}"),
                           num_classes=10, in_channels=1, image_size=32)
    for_equivalence(model)
    if negatives == "bank":
        model.init_memory(2 * GLOBAL_BATCH)
    return model.double()


def _global_batch():
    g = torch.Generator().manual_seed(1)
    x1 = torch.randn(GLOBAL_BATCH, 1, 32, 32, generator=g, dtype=torch.float64)
    x2 = torch.randn(GLOBAL_BATCH, 1, 32, 32, generator=g, dtype=torch.float64)
    y = torch.randint(10, (GLOBAL_BATCH,), generator=g)
    index = torch.randperm(2 * GLOBAL_BATCH, generator=g)[:GLOBAL_BATCH]
    return x1, x2, y, index


class _Step(torch.nn.Module):
    def __init__(self, method):
        super().__init__()
        self.method = method

    def forward(self, x1, x2, y, index):
        out = self.method.compute_losses(Batch((x1, x2), y, index=index))
        return out.ssl, out.probe


def _worker(rank: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=2)
    try:
        x1, x2, y, index = _global_batch()
        share = slice(rank * GLOBAL_BATCH // 2, (rank + 1) * GLOBAL_BATCH // 2)
        result = {}
        for negatives in ("batch", "bank"):
            model = _build(negatives)
            convert_global_batchnorm(model)  # what SSLMethod.setup does under DDP
            torch.manual_seed(5 + rank)  # per-process negative draws
            step = DistributedDataParallel(_Step(model))  # averages the gradients
            loss, probe_loss = step(x1[share], x2[share], y[share], index[share])
            (loss + probe_loss).backward()
            stats = torch.stack([loss.detach(), probe_loss.detach()])
            dist.all_reduce(stats)
            if negatives == "batch":
                result["stats"] = stats / 2
                result["grads"] = {n: p.grad.clone() for n, p in model.named_parameters()
                                   if p.grad is not None}
            else:
                banks = torch.cat([model.bank1.bank.flatten(), model.bank2.bank.flatten()])
                parts = [torch.empty_like(banks) for _ in range(2)]
                dist.all_gather(parts, banks)
                result["banks"] = torch.stack(parts)
        if rank == 0:
            torch.save(result, out)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_processes_equal_one_process_and_keep_identical_banks(tmp_path):
    out = tmp_path / "ddp.pt"
    mp.start_processes(_worker, args=(free_port(), str(out)), nprocs=2, start_method="spawn")
    ddp = torch.load(out, weights_only=True)
    # batch negatives: loss and every gradient of one process on the global batch
    model = _build("batch")
    x1, x2, y, index = _global_batch()
    loss, probe_loss = _Step(model)(x1, x2, y, index)
    (loss + probe_loss).backward()
    torch.testing.assert_close(ddp["stats"], torch.stack([loss, probe_loss]).detach(),
                               rtol=1e-10, atol=1e-10)
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert set(ddp["grads"]) == set(grads)
    for name, g in grads.items():
        torch.testing.assert_close(ddp["grads"][name], g, rtol=1e-9, atol=1e-12,
                                   msg=lambda m, n=name: f"{n}: {m}")
    # bank negatives: both processes hold the same banks, updated with the global batch
    banks = ddp["banks"]
    torch.testing.assert_close(banks[0], banks[1], rtol=0, atol=0)
    fresh = _build("bank")
    old = torch.cat([fresh.bank1.bank.flatten(), fresh.bank2.bank.flatten()])
    changed = (banks[0] != old).view(2, 2 * GLOBAL_BATCH, -1).any(2)
    assert changed[0].nonzero().flatten().tolist() == sorted(index.tolist())
    assert changed[1].nonzero().flatten().tolist() == sorted(index.tolist())
