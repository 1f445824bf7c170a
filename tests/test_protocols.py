"""Evaluation protocols where the right answer is known: weighted kNN, label fractions,
the feature cache, transfer, and `infomax embed`."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import write_fake_fmnist
from infomax.cli import main
from infomax.config import ProbeConfig
from infomax.eval.features import checkpoint_features
from infomax.eval.protocols import (fraction_eval, knn_eval, knn_predict, per_class_subset,
                                    topk_accuracy)
from test_probe import FAST, clusters


def _knn_reference(xtr, ytr, xte, num_classes, k, t):
    """Wu et al. 2018, one test point at a time, in float64."""
    xtr = F.normalize(xtr.double(), dim=1)
    xte = F.normalize(xte.double(), dim=1)
    out = torch.zeros(len(xte), num_classes, dtype=torch.float64)
    for i, q in enumerate(xte):
        sim = xtr @ q
        order = sim.argsort(descending=True)[:k]
        for j in order:
            out[i, ytr[j]] += math.exp(sim[j].item() / t)
    return out


def test_knn_matches_a_float64_loop_reference():
    g = torch.Generator().manual_seed(0)
    xtr, ytr = torch.randn(300, 16, generator=g), torch.randint(5, (300,), generator=g)
    xte = torch.randn(37, 16, generator=g)
    got = knn_predict(xtr, ytr, xte, 5, k=20, temperature=0.1, chunk=8)
    ref = _knn_reference(xtr, ytr, xte, 5, 20, 0.1)
    torch.testing.assert_close(got.double(), ref, rtol=1e-4, atol=1e-6)


def test_knn_separable_clusters_give_100_and_shuffled_labels_give_chance():
    xtr, ytr = clusters(100, seed=1)
    xte, yte = clusters(300, seed=2)
    res = knn_eval(xtr - 5.0, ytr, xte - 5.0, yte, 10, k=200, temperature=0.1)
    assert res["top1"] == 1.0 and res["k"] == 200 and res["temperature"] == 0.1
    g = torch.Generator().manual_seed(3)
    shuffled = knn_eval(xtr, ytr[torch.randperm(len(ytr), generator=g)], xte, yte, 10)
    assert abs(shuffled["top1"] - 0.1) < 0.03


def test_knn_k_is_capped_by_the_training_set_and_bad_settings_refused():
    x, y = torch.randn(5, 4), torch.arange(5)
    assert knn_eval(x, y, x, y, 5, k=200)["k"] == 5
    with pytest.raises(ValueError, match="temperature"):
        knn_predict(x, y, x, 5, temperature=0.0)


def test_topk_accuracy():
    scores = torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.1, 0.3]])
    y = torch.tensor([1, 2])
    assert topk_accuracy(scores, y, 1) == 0.5
    assert topk_accuracy(scores, y, 2) == 1.0


def test_per_class_subset_takes_the_fraction_of_every_class_reproducibly():
    y = torch.arange(10).repeat_interleave(torch.arange(100, 200, 10))  # 100..190 per class
    idx = per_class_subset(y, 0.1, seed=0)
    counts = torch.bincount(y[idx], minlength=10)
    assert counts.tolist() == [round(0.1 * n) for n in range(100, 200, 10)]
    assert torch.equal(idx, per_class_subset(y, 0.1, seed=0))
    assert not torch.equal(idx, per_class_subset(y, 0.1, seed=1))
    assert torch.bincount(y[per_class_subset(y, 0.001, 0)]).tolist() == [1] * 10  # >= 1
    with pytest.raises(ValueError):
        per_class_subset(y, 0.0, 0)


def test_label_fractions_on_separable_clusters():
    xtr, ytr = clusters(200, seed=1)
    xte, yte = clusters(50, seed=2)
    cfg = ProbeConfig(epochs=4, milestones=[3], gamma=0.2, lr=1e-2, weight_decay=0.0,
                      batch_size=128)
    res = fraction_eval(xtr, ytr, xte, yte, 10, cfg, fractions=(0.01, 0.1), seeds=(0, 1, 2))
    assert set(res) == {"1%", "10%"}
    for frac, n in (("1%", 20), ("10%", 200)):
        draws = res[frac]["draws"]
        assert [d["seed"] for d in draws] == [0, 1, 2] and all(d["labels"] == n for d in draws)
        assert res[frac]["mean"] == pytest.approx(np.mean([d["top1"] for d in draws]))
        assert res[frac]["std"] == pytest.approx(np.std([d["top1"] for d in draws], ddof=1))
    # two labels per class suffice on well separated clusters, given enough updates
    assert res["1%"]["mean"] > 0.95 and res["10%"]["mean"] == 1.0


# --------------------------------------------------------------------- on a pretrained run


@pytest.mark.slow
def test_features_are_cached_and_recomputed_when_the_checkpoint_changes(run_copy):
    ckpt = run_copy / "last.ckpt"
    first = checkpoint_features(ckpt, "test", progress=False)
    files = list((run_copy / "features").iterdir())
    assert [f.name for f in files] == ["last-fashion-mnist-test.pt"]
    assert first.features.shape == (64, 32) and len(first.ids) == 64
    assert first.ids[:2] == ["fashion-mnist:test:0", "fashion-mnist:test:1"]
    # A second call reads the cache: same tensors, even if the encoder would now differ.
    torch.save(torch.load(files[0], weights_only=True) | {"features": first.features + 1},
               files[0])
    again = checkpoint_features(ckpt, "test", progress=False)
    torch.testing.assert_close(again.features, first.features + 1)
    ckpt.touch()  # a new checkpoint file: the stale entry is not used
    fresh = checkpoint_features(ckpt, "test", progress=False)
    torch.testing.assert_close(fresh.features, first.features)
    assert torch.equal(fresh.labels, first.labels)


@pytest.mark.slow
def test_probe_knn_and_fractions_end_to_end(run_copy, capfd):
    ckpt = run_copy / "last.ckpt"
    rc = main(["probe", str(ckpt), "--protocol", "knn", "fractions", "--epochs", "1",
               "--knn-k", "10", "--no-progress"])
    out, err = capfd.readouterr()
    assert rc == 0, err
    res = json.loads((run_copy / "probe-last.json").read_text())
    assert "linear" not in res and res["knn"]["k"] == 10 and not res["transfer"]
    assert set(res["fractions"]) == {"1%", "10%"}
    assert all(d["labels"] >= 10 for d in res["fractions"]["1%"]["draws"])  # >= 1 per class
    assert "kNN" in out and "1% labels" in out


@pytest.mark.slow
def test_transfer_to_another_data_set(run_copy, capfd):
    # An "MNIST" in the real on-disk layout, written by the Fashion-MNIST writer.
    root = run_copy.parent / "data"
    write_fake_fmnist(root, seed=7)
    (root / "FashionMNIST").rename(root / "MNIST")
    rc = main(["probe", str(run_copy / "last.ckpt"), "--data", "mnist", "--data-dir", str(root),
               "--protocol", "linear", "knn", "--epochs", "1", "--no-progress"])
    out, err = capfd.readouterr()
    assert rc == 0, err
    res = json.loads((run_copy / "probe-last.json").read_text())
    assert res["data"] == "mnist" and res["transfer"] and res["pretrained_on"] == "fashion-mnist"
    assert "pretrained on fashion-mnist" in out
    assert (run_copy / "features" / "last-mnist-train.pt").is_file()


@pytest.mark.slow
def test_embed_writes_features_labels_and_ids(run_copy, capfd):
    out = run_copy / "emb.npz"
    rc = main(["embed", str(run_copy / "last.ckpt"), "-o", str(out), "--no-progress"])
    stdout, err = capfd.readouterr()
    assert rc == 0, err
    z = np.load(out)
    assert z["features"].shape == (256 + 64, 32) and z["features"].dtype == np.float32
    assert z["labels"].shape == (320,) and set(np.unique(z["split"])) == {"train", "test"}
    assert z["ids"][0] == "fashion-mnist:train:0" and z["ids"][-1] == "fashion-mnist:test:63"
    assert str(z["data"]) == "fashion-mnist"
    # the same numbers the probes use
    test = checkpoint_features(run_copy / "last.ckpt", "test", progress=False)
    np.testing.assert_array_equal(z["features"][256:], test.features.numpy())
    assert "320" not in stdout and "256 train, 64 test images" in stdout


@pytest.mark.slow
def test_embed_parquet(run_copy, capfd):
    pq = pytest.importorskip("pyarrow.parquet")
    out = run_copy / "emb.parquet"
    rc = main(["embed", str(run_copy / "last.ckpt"), "--split", "test", "-o", str(out),
               "--no-progress"])
    assert rc == 0, capfd.readouterr().err
    table = pq.read_table(out)
    assert table.num_rows == 64 and table.column_names == ["id", "split", "label", "features"]
    feats = np.array(table.column("features").to_pylist(), dtype=np.float32)
    assert feats.shape == (64, 32)
