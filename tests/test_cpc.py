"""CPC on patches: the loss against a float64 loop reference, the patch grid, the causality
of the context network, training through the CLI, and two processes against one."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from infomax.cli import main
from infomax.config import make_config
from infomax.runs import load_method
from infomax.errors import ConfigError
from infomax.losses.cpc import cpc_infonce
from infomax.methods import METHODS
from infomax.methods.cpc import ContextNetwork

from conftest import tiny_args
from test_dim import _read_losses, build_model, check_two_processes_equal_one
from test_estimators import logsumexp

TINY_MODEL = ["model.ndf=8", "model.n_rkhs=32", "model.n_depth=1", "train.channels_last=false",
              "method=cpc", "cpc.context_dim=16"]


def reference_cpc(preds, codes, pos_offset=0):
    """Every prediction W_k c[b, i, j] against every patch code of the batch, one at a
    time, in float64 numpy: mean of s_pos - logsumexp(all) + log(#candidates)."""
    codes = np.asarray(codes, np.float64)
    n, d, rows, cols = codes.shape
    cands = [codes[m, :, r, c] for m in range(n) for r in range(rows) for c in range(cols)]
    terms = []
    for k, p in enumerate(preds, start=1):
        p = np.asarray(p, np.float64)
        for b in range(p.shape[0]):
            for i in range(rows - k):
                for j in range(cols):
                    s = [float(p[b, :, i, j] @ z) for z in cands]
                    pos = float(p[b, :, i, j] @ codes[b + pos_offset, :, i + k, j])
                    terms.append(pos - logsumexp(s) + math.log(len(cands)))
    return float(np.mean(terms))


@pytest.mark.parametrize("offset", [0, 2])
def test_cpc_infonce_matches_float64_reference(offset):
    g = torch.Generator().manual_seed(0)
    codes = torch.randn(5, 6, 4, 3, generator=g, dtype=torch.float64)
    preds = [torch.randn(3, 6, 4 - k, 3, generator=g, dtype=torch.float64) for k in (1, 2)]
    ref = reference_cpc(preds, codes, offset)
    assert cpc_infonce(preds, codes, offset).item() == pytest.approx(ref, rel=1e-10)
    got32 = cpc_infonce([p.float() for p in preds], codes.float(), offset)
    assert got32.dtype == torch.float32 and got32.item() == pytest.approx(ref, rel=1e-5)
    assert ref <= math.log(5 * 4 * 3)


def test_context_network_is_row_causal():
    """Output row i changes with input rows <= i only: perturb rows below and compare."""
    torch.manual_seed(0)
    net = ContextNetwork(5, 8, 3).double()
    z = torch.randn(2, 5, 6, 4, dtype=torch.float64)
    base = net(z)
    for i in range(6):
        bumped = z.clone()
        bumped[:, :, i + 1:] += torch.randn_like(bumped[:, :, i + 1:])
        out = net(bumped)
        torch.testing.assert_close(out[:, :, :i + 1], base[:, :, :i + 1], rtol=0, atol=0)
        if i < 5:
            assert (out[:, :, i + 1:] - base[:, :, i + 1:]).abs().max() > 1e-6
    # And row i does see row i and the rows above it (receptive field grows by one row
    # per layer): bump row 0, row 3 moves.
    bumped = z.clone()
    bumped[:, :, 0] += 1.0
    assert (net(bumped)[:, :, 3] - base[:, :, 3]).abs().max() > 1e-6


def test_patch_codes_are_the_backbone_on_each_resized_patch():
    model = build_model("cpc", ["cpc.context_dim=16"]).eval()  # eval: BN independent of batch
    enc = model.encoder
    x = torch.randn(2, 1, 32, 32, dtype=torch.float64)
    z = enc.patch_codes(x)
    assert z.shape == (2, enc.feature_dim, 3, 3)
    for i in range(3):
        for j in range(3):
            patch = x[:, :, 8 * i:8 * i + 16, 8 * j:8 * j + 16]
            patch = F.interpolate(patch, size=(32, 32), mode="bilinear", align_corners=False)
            torch.testing.assert_close(z[:, :, i, j], enc.backbone.embed(patch))
    torch.testing.assert_close(enc.embed(x), z.mean((2, 3)))
    assert (enc.in_channels, enc.image_size) == (1, 32)


def test_predictions_do_not_see_the_rows_they_predict():
    """The method end to end: the loss terms for row i's predictions are unchanged when
    only rows below i change their codes (checked on the context network's input)."""
    model = build_model("cpc", ["cpc.context_dim=16"]).eval()
    z = torch.randn(2, model.encoder.feature_dim, 3, 3, dtype=torch.float64)
    bumped = z.clone()
    bumped[:, :, 1:] += 1.0
    for w in model.predictors:
        torch.testing.assert_close(w(model.context(bumped))[:, :, 0],
                                   w(model.context(z))[:, :, 0], rtol=0, atol=0)


@pytest.mark.parametrize("over,rows", [(["cpc.predict_rows=3"], 3),
                                       (["cpc.patch_size=40"], 0)])
def test_too_few_patch_rows_is_a_config_error(over, rows):
    cfg = make_config("fmnist-tiny", [*TINY_MODEL, *over])
    with pytest.raises(ConfigError, match=rf"gives {rows} patch rows.*cpc.predict_rows"):
        METHODS["cpc"](cfg, num_classes=10, in_channels=1, image_size=32)


def test_cpc_trains_through_the_cli_and_embeds_with_patches(fake_fmnist, tmp_path, capsys):
    rc = main(tiny_args(fake_fmnist, tmp_path, "method=cpc", "train.epochs=1",
                        "train.limit_train_batches=3", "cpc.context_dim=16",
                        "data.batch_size=16", "data.val_subset=16"))
    assert rc == 0
    run = tmp_path / "tiny"
    losses = _read_losses(run)
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses)
    model = load_method(run / "last.ckpt")
    x = torch.randn(3, 1, 32, 32)
    with torch.no_grad():
        feats = model.encoder.embed(x)
        torch.testing.assert_close(feats, model.encoder.patch_codes(x).mean((2, 3)))
    assert feats.shape == (3, model.encoder.feature_dim)
    # A user's bad grid: one line, non-zero exit.
    rc = main(tiny_args(fake_fmnist, tmp_path / "bad", "method=cpc", "cpc.predict_rows=3"))
    assert rc != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert "cpc.predict_rows" in err[-1] and "cpc.patch_size" in err[-1]


@pytest.mark.slow
def test_two_processes_equal_one_process_on_the_global_batch(tmp_path):
    """Candidates are the patch codes of the global batch; the BatchNorm over the patches
    is synchronized, as under DDP."""
    check_two_processes_equal_one("cpc", ["cpc.context_dim=16"], tmp_path)
