"""Mixed precision and compilation: bf16 autocast on the CPU trains with finite losses that
track fp32, the NCE scores stay in fp32, and a compiled encoder computes what the eager one
does."""

from __future__ import annotations

import contextlib

import pytest
import torch

from infomax.config import make_config
from infomax.losses import amdim_pair_nce
from infomax.methods import METHODS, Batch

# bf16 keeps 8 bits of mantissa: per-step losses within 3% of fp32's over a few steps.
BF16_LOSS_RTOL = 0.03


def _tiny(**over):
    cfg = make_config("fmnist-tiny", ["model.ndf=8", "model.n_rkhs=32", "model.n_depth=1",
                                      *[f"{k}={v}" for k, v in over.items()]])
    torch.manual_seed(0)
    return METHODS["amdim"](cfg, num_classes=10, in_channels=1, image_size=32)


def _batch(n=16, seed=3):
    g = torch.Generator().manual_seed(seed)
    x1, x2 = (torch.randn(n, 1, 32, 32, generator=g) for _ in range(2))
    return Batch((x1, x2), torch.randint(10, (n,), generator=g))


def _train(model, steps, autocast):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for i in range(steps):
        with autocast():
            out = model.compute_losses(_batch(seed=i))
            loss, probe_loss, logs = out.ssl, out.probe, out.terms
            total = loss + probe_loss
        total.backward()
        opt.step()
        opt.zero_grad()
        losses.append(torch.stack([loss.detach(), *[logs[k].detach()
                                                    for k in ("l1t5", "l1t7", "l5t5")]]))
    return torch.stack(losses)


def test_bf16_autocast_on_cpu_trains_and_tracks_fp32():
    fp32 = _train(_tiny(), 4, contextlib.nullcontext)
    bf16 = _train(_tiny(), 4, lambda: torch.autocast("cpu", dtype=torch.bfloat16))
    assert torch.isfinite(bf16).all()
    assert bf16.dtype == torch.float32  # the NCE losses are computed in fp32
    torch.testing.assert_close(bf16, fp32, rtol=BF16_LOSS_RTOL, atol=0.0)
    # ... and the run is really in bf16: the losses are not bit-identical to fp32's.
    assert not torch.equal(bf16, fp32)


def test_nce_scores_and_logsumexp_stay_in_fp32_under_autocast():
    g = torch.Generator().manual_seed(0)
    src = torch.randn(8, 64, generator=g)
    trg = torch.randn(8, 64, 25, generator=g)
    ref, ref_reg = amdim_pair_nce(src, trg)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, reg = amdim_pair_nce(src.bfloat16(), trg.bfloat16())
    assert loss.dtype == reg.dtype == torch.float32
    # Only the inputs' rounding to bf16 differs; the scores themselves are fp32 products.
    exact, _ = amdim_pair_nce(src.bfloat16().float(), trg.bfloat16().float())
    torch.testing.assert_close(loss, exact, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(loss, ref, rtol=2e-2, atol=0.0)


@pytest.mark.slow
def test_compiled_encoder_matches_eager():
    eager = _tiny()
    compiled = _tiny(**{"train.compile": "true"})
    compiled.configure_model()  # what the Trainer calls before fitting
    assert list(compiled.state_dict()) == list(eager.state_dict())  # checkpoints unchanged
    x = _batch(8).views[0]
    with torch.no_grad():
        for a, b in zip(eager.encoder(x), compiled.encoder(x)):
            torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)
