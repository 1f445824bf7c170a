"""Online probes that learn on test-time views (probe.online_view=test), from replayed
recent features (probe.online_replay) and are scored by a moving average of their weights
(probe.online_ema)."""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import pytest
import torch

from conftest import tiny_args
from infomax.cli import main
from infomax.config import ConfigError, DataConfig, make_config
from infomax.data.module import PretrainData
from infomax.data.registry import dataset_info
from infomax.data.views import TwoViews, test_view
from infomax.losses import clipped_cross_entropy
from infomax.methods import METHODS, Batch
from infomax.nn.probes import OnlineProbes
from test_online_probes import _amdim
from test_pretrain import load

FASHION = dataset_info("fashion-mnist")


def _views(n=6, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 1, 32, 32, generator=g) for _ in range(3)], \
        torch.randint(10, (n,), generator=g)


# ----------------------------------------------------------------------------- the data


def test_two_views_with_test_view_adds_the_unflipped_test_view_and_draws_as_before():
    img = torch.randint(0, 256, (1, 28, 28), dtype=torch.uint8)
    for photometric in (True, False):
        plain = TwoViews(FASHION, photometric=photometric)
        three = TwoViews(FASHION, photometric=photometric, with_test_view=True)
        for seed in range(6):  # both flip outcomes among them
            torch.manual_seed(seed)
            a, b = plain(img)
            torch.manual_seed(seed)
            a3, b3, t = three(img)
            assert torch.equal(a, a3) and torch.equal(b, b3)
            if photometric:
                assert torch.equal(t, test_view(FASHION)(img))
            else:  # the uint8 geometric part: zero padding 28 -> 32, no flip
                assert t.dtype == torch.uint8 and torch.equal(t[:, 2:30, 2:30], img)
                assert t.sum() == img.sum()


def test_pretrain_data_normalizes_test_views_on_the_device(fake_fmnist):
    cfg = DataConfig(name="fashion-mnist", dir=str(fake_fmnist), download=False,
                     batch_size=8, num_workers=0, augment_device=True)
    data = PretrainData(cfg, pin_memory=False, test_views=True)
    batch = next(iter(data.train_dataloader()))
    (x1, x2), xt, y = batch.views, batch.test_view, batch.labels
    assert xt.dtype == torch.uint8 and xt.shape == x1.shape
    data.trainer = SimpleNamespace(training=True)
    out = data.on_after_batch_transfer(batch, 0)
    (a1, a2), at, y_out = out.views, out.test_view, out.labels
    assert y_out is y and a1.dtype == a2.dtype == torch.float32
    on_cpu = PretrainData(dataclasses.replace(cfg, augment_device=False),
                          pin_memory=False, test_views=True)
    cpu_batch = next(iter(on_cpu.train_dataloader()))
    ct, y_cpu = cpu_batch.test_view, cpu_batch.labels
    assert torch.equal(y_cpu, y)  # the same images: the order does not depend on the views
    torch.testing.assert_close(at, ct, rtol=0, atol=1e-6)


# ----------------------------------------------------------------------------- the step


def test_probes_learn_on_test_view_features_and_the_method_on_its_two_views():
    (x1, x2, xt), y = _views()
    model = _amdim("probe.online_view=test")
    model.train()
    model.probes.eval()  # no dropout: the probes' outputs are functions of their inputs
    torch.manual_seed(3)
    out3 = model.compute_losses(Batch((x1, x2), y, test_view=xt))
    loss3, probe_loss3, logits3, labels3 = out3.ssl, out3.probe, out3.logits, out3.labels
    assert model.encoder.training  # eval mode for the test views only
    # (computed now: the next step's training-mode passes move the BatchNorm statistics)
    model.encoder.eval()
    with torch.no_grad():
        feats = model.encoder.embed(xt)
    model.encoder.train()
    expected = model.probes(feats)
    for name, z in logits3.items():
        torch.testing.assert_close(z, expected[name], rtol=0, atol=0)
    torch.testing.assert_close(
        probe_loss3, sum(clipped_cross_entropy(z, y) for z in expected.values()))
    torch.manual_seed(3)
    out2 = model.compute_losses(Batch((x1, x2), y))
    loss2, probe_loss2, labels2 = out2.ssl, out2.probe, out2.labels
    assert torch.equal(loss3, loss2)  # the method saw the same two views
    assert torch.equal(labels3, y) and torch.equal(labels2, torch.cat([y, y]))
    assert not probe_loss3.isclose(probe_loss2)


def test_methods_with_an_index_get_their_batch_back():
    (x1, x2, xt), y = _views(n=8)
    model = _amdim("probe.online_view=test", "instdisc.num_negatives=4",
                   "instdisc.embed_dim=8", method="instdisc")
    model.init_memory(8)
    out = model.compute_losses(Batch((x1, x2), y, test_view=xt, index=torch.arange(8)))
    loss, logits, labels = out.ssl, out.logits, out.labels
    assert torch.isfinite(loss) and torch.equal(labels, y) and logits["linear"].shape == (8, 10)


def test_replay_learns_from_the_current_batch_and_draws_from_the_last_window_steps():
    probes = OnlineProbes(4, 3, replay=2, window=3)
    batches = [(torch.full((2, 4), float(i)), torch.full((2,), i)) for i in range(6)]
    feats, labels = probes.with_replay(*batches[0])
    assert torch.equal(feats, batches[0][0]) and torch.equal(labels, batches[0][1])
    for i in range(1, 6):
        window = [int(f[0, 0]) for f, _ in probes.recent]
        assert window == list(range(max(0, i - 3), i))
        g = torch.Generator()
        g.set_state(probes.generator.get_state())  # the probes' own draws
        expect = [window[j] for j in torch.randint(len(window), (2,), generator=g).tolist()]
        state = torch.get_rng_state()
        feats, labels = probes.with_replay(*batches[i])
        assert torch.equal(torch.get_rng_state(), state)  # the global stream is left alone
        assert feats.shape == (6, 4) and labels.tolist()[:2] == [i, i]
        assert labels.tolist()[2:] == [expect[0]] * 2 + [expect[1]] * 2
        assert torch.equal(feats[:, 0], labels.float())
    probes.forget_last()
    assert [int(f[0, 0]) for f, _ in probes.recent] == [3, 4]


def test_replayed_features_enter_the_probe_loss_and_only_the_current_batch_is_returned():
    model = _amdim("probe.online_replay=1", "probe.online_window=4")
    model.probes.eval()  # no dropout: the probe loss is a function of its inputs
    (x1, x2, _), y = _views()
    first = model.compute_losses(Batch((x1, x2), y))
    (x1, x2, _), y = _views(seed=5)
    out = model.compute_losses(Batch((x1, x2), y))
    probe_loss, logits, labels = out.probe, out.logits, out.labels
    assert logits["linear"].shape[0] == labels.shape[0] == 12  # two views of 6
    (old_feats, old_labels), (new_feats, new_labels) = model.probes.recent
    assert torch.equal(old_labels, first.labels) and torch.equal(new_labels, labels)
    # The one batch there was to draw follows the current one.
    expect = sum(clipped_cross_entropy(z, torch.cat([labels, old_labels])) for z in
                 model.probes(torch.cat([new_feats, old_feats])).values())
    torch.testing.assert_close(probe_loss, expect)
    torch.testing.assert_close(logits["linear"], model.probes(new_feats)["linear"])


def test_the_average_follows_the_weights_and_scores_the_probes():
    probes = OnlineProbes(4, 3, ema=0.75)
    start = probes.linear.weight.detach().clone()
    assert torch.equal(probes.averaged["linear"].weight, start)
    with torch.no_grad():
        probes.linear.weight.add_(4.0)
        probes.mlp[2].running_mean.fill_(2.0)
    probes.update_average()
    torch.testing.assert_close(probes.averaged["linear"].weight, start + 1.0)
    assert torch.equal(probes.averaged["mlp"][2].running_mean, torch.full((1024,), 2.0))
    assert not any(p.requires_grad for p in probes.averaged.parameters())
    probes.eval()
    x = torch.randn(5, 4)
    torch.testing.assert_close(probes.scored(x)["linear"], probes.averaged["linear"](x))
    assert not torch.allclose(probes.scored(x)["linear"], probes(x)["linear"])
    plain = OnlineProbes(4, 3)
    assert plain.averaged is None and torch.equal(plain.scored(x)["linear"], plain(x)["linear"])


def test_the_averaged_heads_stay_out_of_the_optimizer():
    model = _amdim("probe.online_ema=0.9", "optim.probe_lr=0.01")
    enc, probes = model.configure_optimizers()["optimizer"].param_groups
    averaged = {id(p) for p in model.probes.averaged.parameters()}
    assert not averaged & {id(p) for g in (enc, probes) for p in g["params"]}
    assert {id(p) for p in probes["params"]} == {
        id(p) for n, p in model.probes.named_parameters() if not n.startswith("averaged.")}


def test_online_ema_of_one_or_more_is_refused():
    with pytest.raises(ConfigError, match=r"probe.online_ema: 1.0 .* \[0, 1\)"):
        make_config("fmnist-tiny", ["probe.online_ema=1.0"])
    with pytest.raises(ConfigError, match="probe.online_view"):
        make_config("fmnist-tiny", ["probe.online_view=clean"])


# ----------------------------------------------------------------------------- a real run


@pytest.mark.slow
def test_a_run_with_test_view_probes_logs_the_averaged_heads(fake_fmnist_session, tmp_path):
    args = tiny_args(fake_fmnist_session, tmp_path, "data.pretrain_subset=96",
                     "data.val_subset=64", "probe.online_view=test", "probe.online_replay=2",
                     "probe.online_window=2", "probe.online_ema=0.5")
    assert main(args) == 0
    run = tmp_path / "tiny"
    ckpt = load(run / "last.ckpt")
    recent = ckpt["probe_replay"]["recent"]
    assert [len(pair) for pair in recent] == [2, 2]  # the window's 2 steps
    assert recent[0][0].shape == (32, 32)  # one test view per image
    state = ckpt["state_dict"]
    assert not torch.equal(state["probes.averaged.linear.weight"], state["probes.linear.weight"])
    # The logged online accuracy is the averaged heads' on the test views of the val subset.
    model = METHODS["amdim"].load_from_checkpoint(run / "last.ckpt", map_location="cpu")
    model.eval()
    data = PretrainData(model.cfg.data, seed=model.cfg.train.seed)
    correct = total = 0
    with torch.no_grad():
        for x, y in data.val_dataloader():
            z = model.probes.scored(model.encoder.embed(x))["linear"]
            correct += int((z.argmax(1) == y).sum())
            total += len(y)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["online"]["val/linear_acc"] == pytest.approx(correct / total, abs=1e-6)

