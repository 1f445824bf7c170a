"""MoCo, SimCLR, BYOL and SwAV end to end: tiny pretraining runs through the CLI, the momentum
networks' update rule, the queue-size check, and two processes against one."""

from __future__ import annotations

import csv
import math

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from infomax.cli import main
from infomax.config import make_config
from infomax.methods import METHODS, BYOL, Batch, MoCo
from infomax.nn.global_bn import GlobalBatchNorm, convert_global_batchnorm
from infomax.dist import gather_no_grad

from ddp_utils import free_port, for_equivalence
from conftest import tiny_args

SMALL = {"moco": ["moco.queue_size=64", "moco.hidden_dim=32", "moco.embed_dim=16"],
         "simclr": ["simclr.hidden_dim=32", "simclr.embed_dim=16"],
         "byol": ["byol.hidden_dim=32", "byol.proj_dim=16"],
         "swav": ["swav.hidden_dim=32", "swav.embed_dim=16", "swav.nmb_prototypes=16",
                  "swav.small_crops=2"]}


@pytest.mark.parametrize("method", ["moco", "simclr", "byol", "swav"])
def test_a_few_training_steps_through_the_cli(method, fake_fmnist, tmp_path):
    rc = main(tiny_args(fake_fmnist, tmp_path, f"method={method}", *SMALL[method],
                        "train.epochs=1", "train.limit_train_batches=3"))
    assert rc == 0
    run = tmp_path / "tiny"
    with (run / "csv" / "metrics.csv").open() as f:
        losses = [float(r["train/loss"]) for r in csv.DictReader(f) if r.get("train/loss")]
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses)
    ckpt = torch.load(run / "last.ckpt", weights_only=True, map_location="cpu")
    state = ckpt["state_dict"]
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
    if method == "moco":  # the queue travels in the checkpoint: 3 batches of 32 keys
        assert int(state["queue.ptr"]) == 3 * 32 % 64


def test_moco_queue_larger_than_the_set_minus_a_batch_is_refused(fake_fmnist, tmp_path,
                                                                  capsys):
    rc = main(tiny_args(fake_fmnist, tmp_path, "method=moco", "moco.queue_size=240",
                        "moco.hidden_dim=32", "train.limit_train_batches=1"))
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert "moco.queue_size" in err and "224" in err and len(err.splitlines()) == 1


def _model(method: str, *extra: str):
    torch.manual_seed(0)
    cfg = make_config("fmnist-tiny", ["model.ndf=8", "model.n_rkhs=32", "model.n_depth=1",
                                      "train.channels_last=false", f"method={method}",
                                      *SMALL[method], *extra])
    return METHODS[method](cfg, num_classes=10, in_channels=1, image_size=32)


def _batch(n=8, dtype=torch.float32, seed=1):
    g = torch.Generator().manual_seed(seed)
    return Batch((torch.randn(n, 1, 32, 32, generator=g, dtype=dtype),
                  torch.randn(n, 1, 32, 32, generator=g, dtype=dtype)),
                 torch.randint(10, (n,), generator=g))


@pytest.mark.parametrize("method", ["moco", "byol"])
def test_momentum_network_gets_no_gradient_and_follows_the_ema_rule(method):
    model = _model(method, "moco.momentum=0.9" if method == "moco" else "byol.momentum=0.9")
    pairs = ([("key_encoder", "encoder"), ("key_head", "head")] if method == "moco" else
             [("target_encoder", "encoder"), ("target_projector", "projector")])
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    ptr = int(model.queue.ptr) if method == "moco" else None
    out = model.compute_losses(_batch())
    loss, probe_loss = out.ssl, out.probe
    (loss + probe_loss).backward()
    opt.step()
    before = {t: {n: p.clone() for n, p in getattr(model, t).named_parameters()}
              for t, _ in pairs}
    model.after_step(None)
    moved = 0
    for t, o in pairs:
        online = dict(getattr(model, o).named_parameters())
        for n, p in getattr(model, t).named_parameters():
            assert p.grad is None and not p.requires_grad, f"{t}.{n}"
            torch.testing.assert_close(p, 0.9 * before[t][n] + 0.1 * online[n],
                                       rtol=1e-6, atol=1e-7)
            moved += int(not torch.equal(p, before[t][n]))
    assert moved > 0
    if method == "moco":
        assert int(model.queue.ptr) == (ptr + 8) % 64
        assert isinstance(model, MoCo) and model.temperature == 0.2  # v2 default
    else:
        assert isinstance(model, BYOL) and model.momentum() == 0.9  # no Trainer


# -- two processes against one, float64 -------------------------------------------------
GLOBAL_BATCH, WORLD = 8, 2
DDP_CASES = {"moco": ["moco.shuffle_bn=false"], "simclr": [], "byol": []}


def _ddp_model(method, *extra):
    model = _model(method, *(extra or DDP_CASES[method]))
    return for_equivalence(model)


class _Step(torch.nn.Module):
    def __init__(self, method):
        super().__init__()
        self.method = method

    def forward(self, x1, x2, y):
        out = self.method.compute_losses(Batch((x1, x2), y))
        return out.ssl, out.probe


def _extra_state(model):
    return model.queue.keys.clone() if isinstance(model, MoCo) else torch.zeros(())


def _worker(rank, port, out):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=WORLD)
    try:
        results = {}
        b = _batch(GLOBAL_BATCH, torch.float64)
        (x1, x2), y = b.views, b.labels
        share = slice(rank * GLOBAL_BATCH // WORLD, (rank + 1) * GLOBAL_BATCH // WORLD)
        for method in DDP_CASES:
            model = convert_global_batchnorm(_ddp_model(method))  # as SSLMethod.setup
            step = DistributedDataParallel(_Step(model))
            loss, probe_loss = step(x1[share], x2[share], y[share])
            (loss + probe_loss).backward()
            stats = torch.stack([loss.detach(), probe_loss.detach()])
            dist.all_reduce(stats)
            results[method] = {"stats": stats / WORLD, "extra": _extra_state(model),
                               "grads": {n: p.grad.clone() for n, p in model.named_parameters()
                                         if p.grad is not None}}
        # Shuffled BN: setup keeps the key network's BatchNorms per process, and the
        # shuffle/unshuffle returns each image's own key (in eval mode, where BatchNorm uses
        # running statistics, shuffling must not change the keys at all).
        model = _ddp_model("moco", "moco.shuffle_bn=true")
        model.setup("fit")
        results["shuffle_bn_layers"] = torch.tensor(
            [sum(isinstance(m, GlobalBatchNorm) for m in model.key_encoder.modules()),
             sum(isinstance(m, GlobalBatchNorm) for m in model.encoder.modules())])
        model.eval()
        results["shuffled_keys"] = gather_no_grad(model.keys(x2[share]))
        if rank == 0:
            torch.save(results, out)
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_process_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp") / "family.pt"
    mp.start_processes(_worker, args=(free_port(), str(out)), nprocs=WORLD,
                       start_method="spawn")
    return torch.load(out, weights_only=True)


@pytest.mark.slow
@pytest.mark.parametrize("method", list(DDP_CASES))
def test_two_processes_equal_one_process_on_the_global_batch(method, two_process_results):
    """Global BatchNorm, gathered negatives (SimCLR), the gathered queue (MoCo): the loss
    and every gradient of two processes on halves equal one process on the whole batch."""
    ddp = two_process_results[method]
    model = _ddp_model(method)
    b = _batch(GLOBAL_BATCH, torch.float64)
    (x1, x2), y = b.views, b.labels
    loss, probe_loss = _Step(model)(x1, x2, y)
    (loss + probe_loss).backward()
    torch.testing.assert_close(ddp["stats"], torch.stack([loss, probe_loss]).detach(),
                               rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(ddp["extra"], _extra_state(model), rtol=1e-10, atol=1e-12)
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert set(ddp["grads"]) == set(grads)
    assert not any(n.startswith(("key_", "target_")) for n in grads)
    for name, g in grads.items():
        torch.testing.assert_close(ddp["grads"][name], g, rtol=1e-9, atol=1e-12,
                                   msg=lambda m, n=name: f"{n}: {m}")


@pytest.mark.slow
def test_shuffled_batchnorm_keeps_keys_and_per_process_statistics(two_process_results):
    n_key, n_query = two_process_results["shuffle_bn_layers"].tolist()
    assert n_key == 0 and n_query > 0
    model = _ddp_model("moco", "moco.shuffle_bn=true").eval()
    _, x2 = _batch(GLOBAL_BATCH, torch.float64).views
    torch.testing.assert_close(two_process_results["shuffled_keys"], model.keys(x2),
                               rtol=1e-10, atol=1e-12)
