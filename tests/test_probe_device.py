"""The offline probes on a chosen device: on the CPU the same bits as before --device
existed (against verbatim copies of the earlier functions), the feature cache keyed by
device type and precision, the accelerator's code paths run on the CPU where they can be
(the copies into one host tensor, the chunked scoring), the kNN's blocks over test and
training rows with a running top-k equal to the unchunked computation, and the one-line
error of a device this machine lacks."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from infomax.cli import main
from infomax.config import ProbeConfig
from infomax.data.views import test_view
from infomax.devices import resolve_device
from infomax.engine.probe import run_probe
from infomax.errors import InfomaxError
from infomax.eval import linear
from infomax.eval.features import cache_path, checkpoint_features, probe_input
from infomax.eval.linear import ProbeResult, extract_features, train_probe
from infomax.eval.protocols import (KNN_CPU_MEMORY, fraction_eval, knn_chunks, knn_eval,
                                    knn_neighbours, knn_predict)
from infomax.losses import clipped_cross_entropy
from infomax.nn.probes import linear_head, mlp_head
from infomax.runs import load_method
from test_probe import Embed, Numbered, clusters

pytestmark = pytest.mark.usefixtures("one_thread")

# ------------------------------------------------------------------ the earlier functions
# Verbatim (but for their names) from infomax.eval.linear and infomax.eval.protocols as they
# were before the device argument: the CPU path must give exactly their tensors.


@torch.inference_mode()
def old_extract_features(embed, dataset, batch_size=256, num_workers=0, channels_last=False):
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, drop_last=False,
                        num_workers=num_workers)
    feats, labels = [], []
    for x, y in loader:
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        feats.append(embed(x).float().flatten(1))
        labels.append(torch.as_tensor(y))
    return torch.cat(feats), torch.cat(labels)


def _old_topk(logits, y, k):
    k = min(k, logits.shape[1])
    return (logits.topk(k, dim=1).indices == y[:, None]).any(1).float().mean().item()


def old_train_probe(train_x, train_y, test_x, test_y, num_classes, cfg, kind="linear", seed=0):
    g = torch.Generator().manual_seed(seed)
    mean, std = train_x.mean(0), train_x.std(0).clamp_min(1e-6)
    xtr, xte = (train_x - mean) / std, (test_x - mean) / std
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        head = linear_head(xtr.shape[1], num_classes) if kind == "linear" else \
            mlp_head(xtr.shape[1], num_classes)
    opt = torch.optim.Adam(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, cfg.milestones, cfg.gamma)
    n = xtr.shape[0]
    head.train()
    for _ in range(cfg.epochs):
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, cfg.batch_size):
            idx = perm[i:i + cfg.batch_size]
            if kind == "mlp" and idx.numel() < 2:
                continue
            loss = clipped_cross_entropy(head(xtr[idx]), train_y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
    head.eval()
    with torch.no_grad():
        lt, ltr = head(xte), head(xtr)
    return ProbeResult(top1=_old_topk(lt, test_y, 1), top5=_old_topk(lt, test_y, 5),
                       train_top1=_old_topk(ltr, train_y, 1))


@torch.no_grad()
def old_knn_predict(train_x, train_y, test_x, num_classes, k=200, temperature=0.1, chunk=1024):
    k = min(k, train_x.shape[0])
    train_n = F.normalize(train_x.float(), dim=1)
    test_n = F.normalize(test_x.float(), dim=1)
    labels = train_y.long()
    scores = torch.empty(test_x.shape[0], num_classes)
    for i in range(0, test_n.shape[0], chunk):
        sim = test_n[i:i + chunk] @ train_n.T
        top_sim, top_idx = sim.topk(k, dim=1)
        weights = (top_sim / temperature).exp()
        votes = torch.zeros(sim.shape[0], num_classes)
        votes.scatter_add_(1, labels[top_idx], weights)
        scores[i:i + chunk] = votes
    return scores


def old_features(ckpt, split):
    """The features the earlier checkpoint_features computed (its extraction steps)."""
    model = load_method(ckpt)
    source, _ = probe_input(model, None, None)
    encoder = model.encoder.eval().to(memory_format=torch.channels_last)
    dataset = source.build(split, test_view(source.info, model.cfg.views))
    return old_extract_features(encoder.embed, dataset, batch_size=256,
                                num_workers=model.cfg.data.num_workers, channels_last=True)


CFG = ProbeConfig(epochs=3, milestones=[2], gamma=0.2, lr=1e-2, weight_decay=1e-5,
                  batch_size=64)


# ------------------------------------------------------------------ CPU: the same bits


@pytest.mark.slow
def test_cpu_features_and_probes_are_bitwise_those_of_the_earlier_code(run_copy):
    ckpt = run_copy / "last.ckpt"
    (xtr, ytr), (xte, yte) = old_features(ckpt, "train"), old_features(ckpt, "test")
    for device in ("cpu", "auto", None):  # no GPU here: auto is the CPU
        fs = checkpoint_features(ckpt, "train", device=device, cache=False, progress=False)
        assert torch.equal(fs.features, xtr) and torch.equal(fs.labels, ytr)
        assert fs.extraction["device"] == "cpu" and fs.extraction["precision"] == "fp32"
        assert fs.extraction["images"] == 256 and fs.extraction["images_per_s"] > 0
    for kind in ("linear", "mlp"):
        torch.manual_seed(11)  # the MLP's dropout draws from the global generator
        old = old_train_probe(xtr, ytr, xte, yte, 10, CFG, kind, seed=3)
        torch.manual_seed(11)
        assert train_probe(xtr, ytr, xte, yte, 10, CFG, kind, seed=3, device="cpu") == old
    for k, chunk in ((200, 1024), (7, 10)):
        old = old_knn_predict(xtr, ytr, xte, 10, k, 0.1, chunk)
        assert torch.equal(knn_predict(xtr, ytr, xte, 10, k, 0.1, chunk, device="cpu"), old)
    # run_probe end to end: the numbers the earlier functions give on the earlier features.
    res = run_probe(ckpt, protocols=["linear", "knn"], epochs=2, knn_k=20, progress=False,
                    device="cpu")
    cfg = load_method(ckpt).cfg
    probe_cfg = ProbeConfig(**{**cfg.probe.__dict__, "epochs": 2, "milestones": [1]})
    old = old_train_probe(xtr, ytr, xte, yte, 10, probe_cfg, "linear", seed=cfg.train.seed)
    assert res["linear"] == old.as_dict()
    assert res["knn"]["top1"] == _old_topk(old_knn_predict(xtr, ytr, xte, 10, 20), yte, 1)
    assert res["device"] == "cpu" and res["extraction"]["train"]["precision"] == "fp32"
    assert res["input"]["adapted"] is False and res["input"]["channels"] == "kept"
    assert json.loads((run_copy / "probe-last.json").read_text())["device"] == "cpu"


def test_fractions_on_the_cpu_are_those_of_the_earlier_probe():
    xtr, ytr = clusters(30, seed=1)
    xte, yte = clusters(10, seed=2)
    cfg = ProbeConfig(epochs=2, milestones=[1], lr=1e-2, batch_size=32)
    res = fraction_eval(xtr, ytr, xte, yte, 10, cfg, fractions=(0.1,), seeds=(0, 1),
                        device="cpu")
    from infomax.eval.protocols import per_class_subset
    for draw in res["10%"]["draws"]:
        idx = per_class_subset(ytr, 0.1, draw["seed"])
        sub = ProbeConfig(**{**cfg.__dict__, "epochs": 20, "milestones": [10]})
        old = old_train_probe(xtr[idx], ytr[idx], xte, yte, 10, sub, "linear", draw["seed"])
        assert (draw["top1"], draw["top5"]) == (old.top1, old.top5)


# ------------------------------------------------------------------ the accelerator's paths


def test_the_accelerators_copy_into_one_host_tensor_gives_the_same_features(monkeypatch):
    """The copies into one preallocated host tensor (the CUDA path), taken on the CPU."""
    cpu = torch.device("cpu")
    ref = extract_features(Embed(), Numbered(37), batch_size=8, progress=False)
    monkeypatch.setattr(linear, "_on_host", lambda dev: False)  # the accelerator's branch
    got = extract_features(Embed(), Numbered(37), batch_size=8, progress=False, device=cpu)
    assert torch.equal(got[0], ref[0]) and torch.equal(got[1], ref[1])
    # Under autocast in bf16, as on a GPU (the CPU has a bf16 autocast too): the matmul
    # runs in bf16, the features come back as float32.
    torch.manual_seed(0)
    embed = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    fp32, _ = extract_features(embed, Numbered(37), batch_size=8, progress=False)
    bf16, _ = extract_features(embed, Numbered(37), batch_size=8, progress=False,
                               device=cpu, precision="bf16")
    assert bf16.dtype == torch.float32 and bf16.shape == (37, 3)
    assert not torch.equal(bf16, fp32)
    torch.testing.assert_close(bf16, fp32, rtol=2e-2, atol=0.5)


def test_overflowing_reduced_precision_features_are_refused_in_one_line(monkeypatch):
    monkeypatch.setattr(linear, "_on_host", lambda dev: False)

    def huge(x):  # what an fp16 activation past 65504 becomes
        return torch.full((x.shape[0], 2), 1e30).half()

    with pytest.raises(InfomaxError) as err:
        extract_features(huge, Numbered(5), batch_size=2, progress=False, device="cpu",
                         precision="fp16")
    assert "overflowed in fp16" in str(err.value) and "\n" not in str(err.value)


def test_the_cpu_extracts_in_fp32_only():
    assert linear.extraction_precision(torch.device("cpu")) == "fp32"
    with pytest.raises(ValueError, match="fp32 on the CPU"):
        extract_features(Embed(), Numbered(3), device="cpu", precision="bf16", progress=False)


def test_chunked_scoring_counts_the_same_hits(monkeypatch):
    """The accelerator scores its classifier in chunks of EVAL_ROWS rows: the same top-k."""
    g = torch.Generator().manual_seed(0)
    head = torch.nn.Linear(8, 6)
    x, y = torch.randn(101, 8, generator=g), torch.randint(6, (101,), generator=g)
    monkeypatch.setattr(linear, "EVAL_ROWS", 16)  # 101 = 6 x 16 + 5
    with torch.no_grad():
        top1, top5 = linear._topk_in_chunks(head, x, y, (1, 5))
        logits = head(x)
    assert top1 == pytest.approx(linear._topk(logits, y, 1), abs=1e-6)
    assert top5 == pytest.approx(linear._topk(logits, y, 5), abs=1e-6)


# ------------------------------------------------------------------ the feature cache


@pytest.mark.slow
def test_the_cache_is_keyed_by_device_type_and_precision(run_copy):
    ckpt = run_copy / "last.ckpt"
    first = checkpoint_features(ckpt, "test", device="cpu", progress=False)
    path = cache_path(ckpt, "fashion-mnist", "test", torch.device("cpu"), "fp32")
    assert path == run_copy / "features" / "last-fashion-mnist-test.pt" and path.is_file()
    gpu = cache_path(ckpt, "fashion-mnist", "test", torch.device("cuda", 0), "bf16")
    assert gpu.name == "last-fashion-mnist-test-cuda-bf16.pt"
    saved = torch.load(path, weights_only=True)
    assert (saved["key"]["device"], saved["key"]["precision"]) == ("cpu", "fp32")
    # An entry that says bf16 on CUDA is not served for the CPU's fp32 features.
    saved["key"] |= {"device": "cuda", "precision": "bf16"}
    torch.save(saved | {"features": first.features + 1}, path)
    again = checkpoint_features(ckpt, "test", device="cpu", progress=False)
    assert torch.equal(again.features, first.features) and not again.extraction["cached"]
    cached = checkpoint_features(ckpt, "test", device="cpu", progress=False)
    assert cached.extraction == {"device": "cpu", "precision": "fp32", "cached": True}


# ------------------------------------------------------------------ kNN in blocks


def _random_features(n_train=101, n_test=23, dim=12, classes=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n_train, dim, generator=g), torch.randint(classes, (n_train,), generator=g),
            torch.randn(n_test, dim, generator=g))


@pytest.mark.parametrize("chunk, train_chunk, k", [(7, 13, 10), (5, 6, 20), (23, 50, 1),
                                                   (1, 100, 101)])
def test_knn_blocks_with_a_running_topk_equal_the_unchunked_neighbours(chunk, train_chunk, k):
    xtr, ytr, xte = _random_features()  # Gaussian: no two similarities tie
    sim, idx = knn_neighbours(xtr, xte, k, chunk=23, train_chunk=101)  # one block
    got_sim, got_idx = knn_neighbours(xtr, xte, k, chunk=chunk, train_chunk=train_chunk)
    assert torch.equal(got_idx, idx)
    torch.testing.assert_close(got_sim, sim, rtol=1e-6, atol=1e-7)
    ref = knn_predict(xtr, ytr, xte, 5, k, 0.1, chunk=23, train_chunk=101)
    got = knn_predict(xtr, ytr, xte, 5, k, 0.1, chunk=chunk, train_chunk=train_chunk)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-6)
    assert torch.equal(got.argmax(1), ref.argmax(1))


def _block_bytes(rows: int, cols: int, k: int, dim: int) -> int:
    """What knn_chunks counts: similarities (x2), the training block (x2), the top-k."""
    return rows * cols * 8 + cols * dim * 8 + rows * k * 48


def test_knn_chunks_come_from_the_memory_budget():
    # Fashion-MNIST's 256-d features under the CPU's budget: one block of every training
    # row, the computation as it was.
    assert knn_chunks(10_000, 60_000, 200, KNN_CPU_MEMORY, 256) == (1024, 60_000)
    # ImageNet's 1.28M x 2048: the training rows in blocks that keep within the budget.
    rows, cols = knn_chunks(50_000, 1_281_167, 200, KNN_CPU_MEMORY, 2048)
    assert rows == 1024 and 4096 <= cols < 1_281_167
    assert _block_bytes(rows, cols, 200, 2048) <= KNN_CPU_MEMORY
    assert _block_bytes(rows, cols + 1, 200, 2048) > KNN_CPU_MEMORY  # as many as fit
    # A budget too small for 1024 x 4096: fewer test rows, never none.
    rows, cols = knn_chunks(50_000, 1_281_167, 200, 96 << 20, 2048)
    assert 1 <= rows < 1024 and cols >= 4096
    assert _block_bytes(rows, cols, 200, 2048) <= 96 << 20
    # One that cannot hold 4096 training rows at all: one test row, as many as fit.
    rows, cols = knn_chunks(50_000, 1_281_167, 200, 32 << 20, 2048)
    assert rows == 1 and 1 <= cols < 4096 and _block_bytes(1, cols, 200, 2048) <= 32 << 20
    assert knn_chunks(3, 5, 200, 1, 8) == (1, 1)


def test_knn_under_a_small_budget_takes_several_blocks_and_the_same_votes():
    xtr, ytr, xte = _random_features(n_train=9001, n_test=41)
    budget = _block_bytes(16, 5000, 10, 12)  # 16 test rows against 5000 of the 9001
    assert knn_chunks(41, 9001, 10, budget, 12, max_test_rows=16) == (16, 5000)
    got = knn_predict(xtr, ytr, xte, 5, 10, 0.1, chunk=16, memory_budget=budget)
    ref = knn_predict(xtr, ytr, xte, 5, 10, 0.1)  # 41 rows against all 9001 at once
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-6)
    labels = torch.randint(5, (41,), generator=torch.Generator().manual_seed(1))
    assert knn_eval(xtr, ytr, xte, labels, 5, k=10, memory_budget=budget) == \
        knn_eval(xtr, ytr, xte, labels, 5, k=10)


def test_knn_bad_chunks_are_refused():
    xtr, _, xte = _random_features()
    with pytest.raises(ValueError, match="chunks must be >= 1"):
        knn_neighbours(xtr, xte, 5, chunk=0, train_chunk=10)


# ------------------------------------------------------------------ --device


def test_a_device_this_machine_lacks_is_one_line_before_any_work(tmp_path, capfd):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    missing = tmp_path / "never.ckpt"  # refused before the checkpoint is read
    for argv in (["probe", str(missing)], ["embed", str(missing), "-o", str(tmp_path / "e.npz")],
                 ["report", str(tmp_path)]):
        assert main([*argv, "--device", "cuda"]) == 2
        err = capfd.readouterr().err.strip().splitlines()
        assert err == ["infomax: error: --device: 'cuda' is not a device this machine has; "
                       "use auto or cpu"], err
    assert not (tmp_path / "e.npz").exists()
    with pytest.raises(InfomaxError, match="--device: 'cuda:3'"):
        run_probe(missing, device="cuda:3")
    with pytest.raises(InfomaxError, match="device: 'tpu'"):
        train_probe(*clusters(2), *clusters(2), 10, CFG, device="tpu")


def test_tensor_functions_follow_their_inputs_by_default():
    xtr, ytr = clusters(20, seed=1)
    xte, yte = clusters(5, seed=2)
    assert train_probe(xtr, ytr, xte, yte, 10, CFG) == train_probe(xtr, ytr, xte, yte, 10, CFG,
                                                                    device="cpu")
    sim, idx = knn_neighbours(xtr, xte, 3)
    assert sim.device == idx.device == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
