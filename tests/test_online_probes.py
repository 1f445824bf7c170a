"""The online probes' optimizer: without optim.probe_lr one group at optim.lr; with it the
probes train at their own rate under the same schedule, and the encoder is unchanged."""

from __future__ import annotations

import pytest
import torch

from infomax.config import make_config
from infomax.methods import METHODS, Batch


def _amdim(*extra, method="amdim"):
    """A small model of ``method`` on the preset, at a constant rate, with the public code's
    online probes unless ``extra`` says otherwise."""
    torch.manual_seed(0)
    cfg = make_config("fmnist-tiny", ["model.ndf=8", "model.n_rkhs=32", "model.n_depth=1",
                                      "train.channels_last=false", "optim.warmup_steps=4",
                                      "optim.milestones=[1000]", "optim.probe_lr=null",
                                      "optim.cooldown=0", "optim.probe_cooldown=true",
                                      "probe.online_view=augmented",
                                      "probe.online_replay=0", "probe.online_ema=0",
                                      f"method={method}", *extra])
    return METHODS[method](cfg, num_classes=10, in_channels=1, image_size=32)


def _batch(n=6):
    g = torch.Generator().manual_seed(1)
    return Batch((torch.randn(n, 1, 32, 32, generator=g), torch.randn(n, 1, 32, 32, generator=g)),
                 torch.randint(10, (n,), generator=g))


def _step(model):
    opt = model.configure_optimizers()["optimizer"]
    torch.manual_seed(2)  # the same dropout masks in both models
    out = model.compute_losses(_batch())
    loss, probe_loss = out.ssl, out.probe
    (loss + probe_loss).backward()
    opt.step()
    return opt


def test_default_is_one_group_at_the_encoders_rate():
    model = _amdim()
    opt = model.configure_optimizers()["optimizer"]
    (group,) = opt.param_groups
    assert group["lr"] == pytest.approx(1e-3 / 4)  # first warmup step of 4, preset lr 1e-3
    assert len(group["params"]) == len([p for p in model.parameters() if p.requires_grad])


def test_probe_lr_gives_the_probes_their_own_rate_under_the_same_schedule():
    model = _amdim("optim.probe_lr=0.02")
    sched = model.configure_optimizers()["lr_scheduler"]["scheduler"]
    enc, probes = sched.optimizer.param_groups
    assert {id(p) for p in probes["params"]} == {id(p) for p in model.probes.parameters()}
    assert not {id(p) for p in enc["params"]} & {id(p) for p in probes["params"]}
    assert len(enc["params"]) + len(probes["params"]) == len(list(model.parameters()))
    for k in range(1, 6):  # warmup scales both groups alike, then both sit at their rate
        assert enc["lr"] == pytest.approx(1e-3 * min(1, k / 4))
        assert probes["lr"] == pytest.approx(0.02 * min(1, k / 4))
        sched.optimizer.step()
        sched.step()


def test_probe_lr_changes_the_probes_updates_and_not_the_encoders():
    slow, fast = _amdim(), _amdim("optim.probe_lr=0.02")
    before = {k: v.clone() for k, v in slow.state_dict().items()}
    _step(slow), _step(fast)
    s, f = slow.state_dict(), fast.state_dict()
    for k in before:
        if k.startswith("probes.") and before[k].is_floating_point() and "running" not in k:
            # Adam's first update moves each weight by about lr: 20x more here.
            ds = (s[k] - before[k]).abs().mean().item()
            df = (f[k] - before[k]).abs().mean().item()
            assert df == pytest.approx(20 * ds, rel=0.05), k
        elif not k.startswith("probes."):
            torch.testing.assert_close(s[k], f[k], rtol=0, atol=0, msg=k)
