"""Optimizers, schedules and the methods' published recipes as configuration: optim.name,
parameter groups (biases and norms out of weight decay and LARS adaptation), the rate
scaled by the batch, cosine and step schedules with warmup, gradient clipping and
accumulation, and how a recipe meets a preset, a config file and overrides."""

from __future__ import annotations

import math

import pytest
import torch
from timm.optim import Lars

from conftest import tiny_args
from infomax.cli import main
from infomax.config import config_from_dict, make_config, recipe_for
from infomax.data.registry import DatasetInfo
from infomax.engine.resume import resume_changes
from infomax.errors import ConfigError, InfomaxError
from infomax.methods import METHODS
from infomax.methods import recipes
from infomax.methods.base import make_schedule, peak_lr
from infomax.methods.schedule import WarmupCosine, WarmupMultiStep
from infomax.runs import build_method

INFO = DatasetInfo("fashion-mnist", 32, 1, 10, (0.5,), (0.5,), True)
SMALL = ["model.ndf=8", "model.n_rkhs=16", "model.n_depth=1"]


def _model(*overrides: str):
    cfg = make_config("fmnist-tiny", [*SMALL, *overrides])
    model = build_method(cfg, INFO, 256)
    return model, model.configure_optimizers()


# ----------------------------------------------------------------------------- optimizers


@pytest.mark.parametrize("name, cls", [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW),
                                       ("sgd", torch.optim.SGD), ("lars", Lars)])
def test_optim_name_builds_that_optimizer(name, cls):
    extra = ["optim.lr_batch=256"] if name == "lars" else []
    model, conf = _model(f"optim.name={name}", "optim.weight_decay=0.01", *extra)
    opt = conf["optimizer"]
    assert type(opt) is cls
    group = opt.param_groups[0]
    assert group["weight_decay"] == 0.01
    if name in ("sgd", "lars"):
        assert group["momentum"] == 0.9
    else:
        assert group["betas"] == (0.8, 0.999)


def test_the_default_is_amdims_adam_in_one_group():
    model, conf = _model("optim.probe_lr=null", "optim.probe_cooldown=true")
    opt = conf["optimizer"]
    assert type(opt) is torch.optim.Adam and len(opt.param_groups) == 1
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert [id(p) for p in opt.param_groups[0]["params"]] == [id(p) for p in trainable]


def test_biases_and_norms_leave_weight_decay_and_lars_adaptation():
    model, conf = _model("optim.name=lars", "optim.lr_batch=256", "optim.weight_decay=0.1",
                         "optim.exclude_bias_norm=true", "model.use_bn=true")
    groups = conf["optimizer"].param_groups
    assert len(groups) == 3  # encoder weights, their biases and norms, the probes
    weights, flat, probes = groups
    assert all(p.ndim > 1 for p in weights["params"]) and weights["weight_decay"] == 0.1
    assert all(p.ndim == 1 for p in flat["params"]) and flat["weight_decay"] == 0.0
    assert any(p.ndim == 1 for p in flat["params"])
    assert probes["weight_decay"] == 0.0
    assert (weights["always_adapt"], flat["always_adapt"], probes["always_adapt"]) == (
        True, False, False)
    mine = {id(p) for p in model.probes.parameters() if p.requires_grad}
    assert {id(p) for p in probes["params"]} == mine
    assert not mine & {id(p) for g in (weights, flat) for p in g["params"]}


def test_lars_step_equals_a_float64_reference():
    """One LARS update with momentum (the first: the buffer is the gradient): the adapted
    weights move by lr * eta * |w| / (|g| + wd |w|) * (g + wd w), the excluded biases and
    norms by lr * g, as SimCLR's LARS does."""
    torch.manual_seed(0)
    model, conf = _model("optim.name=lars", "optim.lr_batch=128", "optim.lr=0.5",
                         "optim.weight_decay=0.01", "optim.exclude_bias_norm=true",
                         "optim.lars_trust=0.002", "optim.probe_lr=0.1", "optim.warmup_steps=0")
    model.double()
    opt = conf["optimizer"]
    for g in opt.param_groups:  # the optimizer holds the same (now float64) tensors
        for p in g["params"]:
            p.grad = torch.randn_like(p)
    before = {id(p): (p.detach().clone(), p.grad.clone()) for g in opt.param_groups
              for p in g["params"]}
    opt.step()
    weights, flat, probes = opt.param_groups
    assert weights["lr"] == 0.5  # 0.5 x 128 / 128
    norms = [before[id(p)][0].norm() for p in weights["params"]]
    assert sum(n > 0 for n in norms) >= 3  # adapted weights with a norm, not only zeros
    for group, adapted in ((weights, True), (flat, False), (probes, False)):
        for p in group["params"]:
            w, g = before[id(p)]
            if adapted:
                wn, gn = w.norm(), g.norm()
                # A zero-initialized weight (norm 0) is not adapted (ratio 1), as in LARS.
                trust = 0.002 * wn / (gn + 0.01 * wn + 1e-8) if wn > 0 else 1.0
                expected = w - 0.5 * trust * (g + 0.01 * w)
            else:
                expected = w - group["lr"] * g
            torch.testing.assert_close(p.detach(), expected, rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------------------- rates


def test_the_rate_follows_the_global_batch():
    cfg = make_config("fmnist-tiny", ["optim.lr=0.3", "optim.lr_batch=256"])
    assert peak_lr(cfg, 1) == pytest.approx(0.3 * 128 / 256)
    assert peak_lr(cfg, 8) == pytest.approx(0.3 * 1024 / 256)
    acc = make_config("fmnist-tiny", ["optim.lr=0.3", "optim.lr_batch=256",
                                      "optim.accumulate=4"])
    assert peak_lr(acc, 2) == pytest.approx(0.3 * 128 * 2 * 4 / 256)
    root = make_config("fmnist-tiny", ["optim.lr=0.3", "optim.lr_batch=256",
                                       "optim.lr_scaling=sqrt"])
    assert peak_lr(root, 8) == pytest.approx(0.3 * math.sqrt(4))
    assert peak_lr(make_config("fmnist-tiny"), 8) == 1e-3  # no optim.lr_batch: as given


# ----------------------------------------------------------------------------- schedules


def test_cosine_schedule_with_warmup():
    s = WarmupCosine(warmup=10, total_steps=110, final=0.01)
    assert s(0) == pytest.approx(0.1) and s(4) == pytest.approx(0.5)
    assert s(9) == pytest.approx(1.0) and s(10) == pytest.approx(1.0)
    assert s(60) == pytest.approx(0.01 + 0.99 * 0.5)  # half way through the cosine
    assert s(110) == pytest.approx(0.01)
    values = [s(i) for i in range(10, 111)]
    assert all(a >= b for a, b in zip(values, values[1:]))  # falls monotonically
    started = WarmupCosine(warmup=10, total_steps=110, warmup_from=0.0625)
    assert started(0) == pytest.approx(0.0625 + 0.9375 * 0.1)


def test_step_schedule_equals_the_epoch_rule_and_takes_fractional_milestones():
    s = WarmupMultiStep(5, [2, 3], 0.1, steps_per_epoch=7, total_steps=35)
    for step in range(35):
        warm = min(1.0, (step + 1) / 5)
        expected = warm * 0.1 ** sum(step // 7 >= m for m in (2, 3))
        assert s(step) == expected  # bit for bit the rule of whole epochs
    half = WarmupMultiStep(0, [1.5], 0.5, steps_per_epoch=10)
    assert [half(14), half(15)] == [1.0, 0.5]


def test_recipe_schedules_scale_to_the_runs_length():
    # MoCo v1: x0.1 at epochs 120 and 160 of 200; a 2-epoch run decays at 1.2 and 1.6.
    cfg = make_config("fmnist-tiny", ["method=moco", "moco.version=v1"])
    assert cfg.optim.schedule_epochs == 200 and cfg.train.epochs == 2
    s = make_schedule(cfg, steps_per_epoch=100, total_steps=200)
    assert [s(119), s(120), s(159), s(160)] == pytest.approx([1, 0.1, 0.1, 0.01])
    # SimCLR: 10 warmup epochs of 100, so 0.2 epochs (20 updates) of 2.
    simclr = make_schedule(make_config("fmnist-tiny", ["method=simclr"]), 100, 200)
    assert simclr(19) == pytest.approx(1.0) and simclr(9) == pytest.approx(0.5)


# ----------------------------------------------------------------------------- recipes


@pytest.mark.parametrize("method", [m for m in METHODS.names() if recipe_for(m) is not None])
def test_method_alone_gives_its_recipe(method):
    cfg = make_config(None, [f"method={method}"])
    recipe = recipe_for(method)
    assert cfg.recipe == method and recipe.source
    for key, value in recipe.optim.items():
        assert getattr(cfg.optim, key) == value, key
    for key, value in recipe.views.items():
        if isinstance(value, dict):
            for k, v in value.items():
                assert getattr(getattr(cfg.views, key), k) == v, f"{key}.{k}"
        else:
            assert getattr(cfg.views, key) == value, key


def test_published_numbers_of_the_recipes():
    simclr = make_config(None, ["method=simclr"])
    o, v = simclr.optim, simclr.views
    assert (o.name, o.lr, o.lr_batch, o.weight_decay, o.schedule) == (
        "lars", 0.3, 256, 1e-6, "cosine")
    assert o.exclude_bias_norm and (o.warmup_epochs, o.schedule_epochs) == (10, 100)
    assert (v.crop, v.crop_scale, v.jitter, v.jitter_p, v.grayscale_p, v.blur_p) == (
        "resized", [0.08, 1.0], [0.8, 0.8, 0.8, 0.2], 0.8, 0.2, 0.5)
    byol = make_config(None, ["method=byol"])
    assert (byol.optim.name, byol.optim.lr, byol.optim.weight_decay) == ("lars", 0.2, 1.5e-6)
    first, second = byol.views.for_view(0), byol.views.for_view(1)
    assert (first.blur_p, second.blur_p, first.solarize_p, second.solarize_p) == (
        1.0, 0.1, 0.0, 0.2)
    v2 = make_config(None, ["method=moco"])
    v1 = make_config(None, ["method=moco", "moco.version=v1"])
    assert (v2.optim.name, v2.optim.lr, v2.optim.weight_decay, v2.optim.schedule) == (
        "sgd", 0.03, 1e-4, "cosine")
    assert v2.views.blur_p == 0.5 and v1.views.blur_p == 0.0
    assert (v1.optim.schedule, v1.optim.milestones, v1.views.jitter_p) == (
        "multistep", [120, 160], 1.0)
    assert make_config(None, ["method=instdisc"]).optim.weight_decay == 5e-4
    assert make_config(None, ["method=dim"]).optim.lr == 1e-4
    assert recipe_for("cpc") is None and recipe_for("amdim") is None


def test_a_preset_of_another_method_gives_its_data_not_its_optimizer():
    tiny = make_config("fmnist-tiny")
    simclr = make_config("fmnist-tiny", ["method=simclr"])
    assert simclr.model == tiny.model and simclr.data == tiny.data and simclr.probe == tiny.probe
    assert simclr.optim.name == "lars" and simclr.optim.probe_lr is None
    # CPC has no recipe of its own: the preset's (AMDIM's, as the demo adapts it).
    assert make_config("fmnist-tiny", ["method=cpc"]).optim == tiny.optim
    # Overrides still change single keys of the recipe.
    changed = make_config("fmnist-tiny", ["method=simclr", "optim.lr=0.5",
                                          "views.blur_p=0"])
    assert (changed.optim.name, changed.optim.lr, changed.views.blur_p) == ("lars", 0.5, 0)
    # A warmup in updates replaces the recipe's warmup in epochs (and the other way).
    steps = make_config("fmnist-tiny", ["method=simclr", "optim.warmup_steps=7"])
    assert (steps.optim.warmup_steps, steps.optim.warmup_epochs) == (7, None)
    epochs = make_config("fmnist-tiny", ["optim.warmup_epochs=0.5"])
    assert (epochs.optim.warmup_steps, epochs.optim.warmup_epochs) == (0, 0.5)


def test_a_saved_config_keeps_what_it_trained_with():
    # A saved config gives optim and views: the recipe does not replace them, and keys it
    # lacks (written before they existed) take the defaults, which it trained with.
    saved = make_config("fmnist-tiny", ["method=simclr", "optim.name=adam",
                                        "optim.lr_batch=null"]).to_dict()
    del saved["optim"]["name"], saved["optim"]["schedule"], saved["views"]["crop"]
    again = make_config(None, base=saved)
    assert (again.optim.name, again.optim.schedule, again.views.crop) == (
        "adam", "multistep", "auto")
    assert resume_changes(saved, again, "x/last.ckpt") == []
    lars = make_config(None, ["optim.name=lars", "optim.lr_batch=256"], base=saved)
    with pytest.raises(InfomaxError, match="optim.name: 'adam' there, 'lars' here"):
        resume_changes(saved, lars, "x/last.ckpt")


def test_each_recipe_is_a_valid_config_of_its_own():
    for name in ("SIMCLR", "MOCO_V1", "MOCO_V2", "BYOL", "INSTDISC", "CMC", "DIM"):
        recipe = getattr(recipes, name)
        config_from_dict({"optim": recipe.optim, "views": recipe.views})


@pytest.mark.parametrize("overrides, words", [
    (["optim.name=lamb"], ["optim.name", "adam, adamw, sgd, lars"]),
    (["optim.name=lars"], ["optim.lr_batch", "LARS", "optim.lr_batch=256"]),
    (["optim.nesterov=true"], ["optim.nesterov", "sgd or lars"]),
    (["optim.schedule=linear"], ["optim.schedule", "multistep, cosine"]),
    ([{"optim": {"warmup_steps": 5, "warmup_epochs": 1.0}}], ["optim.warmup_epochs",
                                                             "optim.warmup_steps=0"]),
    (["optim.final_lr_ratio=2"], ["optim.final_lr_ratio", "[0, 1]"]),
    (["optim.clip_grad_norm=0"], ["optim.clip_grad_norm", "positive"]),
    (["optim.accumulate=0"], ["optim.accumulate", ">= 1"]),
    (["optim.momentum=1"], ["optim.momentum", "[0, 1)"]),
])
def test_bad_optimizer_settings_are_refused_in_one_line(overrides, words):
    with pytest.raises(ConfigError) as e:
        if isinstance(overrides[0], dict):
            config_from_dict(overrides[0])
        else:
            make_config("fmnist-tiny", overrides)
    text = str(e.value)
    assert "\n" not in text and all(w in text for w in words), text


# ----------------------------------------------------------------------------- in training


def test_gradient_clipping_bounds_the_update(fake_fmnist, tmp_path):
    """One plain SGD update at lr 1 with the gradient norm clipped to 1e-3 moves the
    parameters by exactly 1e-3 (the gradient is far larger); lr 0 moves nothing."""
    common = ["optim.name=sgd", "optim.momentum=0", "optim.weight_decay=0",
              "optim.warmup_steps=0", "optim.milestones=[]", "optim.cooldown=0",
              "optim.probe_lr=null", "optim.probe_cooldown=true", "train.epochs=1",
              "train.limit_train_batches=1", "optim.clip_grad_norm=0.001",
              "probe.online_ema=0", "probe.online_replay=0"]
    assert main(tiny_args(fake_fmnist, tmp_path / "a", *common, "optim.lr=0")) == 0
    assert main(tiny_args(fake_fmnist, tmp_path / "b", *common, "optim.lr=1")) == 0
    a = torch.load(tmp_path / "a/tiny/last.ckpt", weights_only=False)
    b = torch.load(tmp_path / "b/tiny/last.ckpt", weights_only=False)
    model = build_method(make_config("fmnist-tiny", common), INFO, 256)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    moved = [b["state_dict"][k].double() - a["state_dict"][k].double() for k in names]
    norm = torch.stack([d.norm() for d in moved]).norm()
    assert norm.item() == pytest.approx(1e-3, rel=1e-3)


def test_accumulation_makes_one_update_of_several_batches(fake_fmnist, tmp_path):
    assert main(tiny_args(fake_fmnist, tmp_path, "train.epochs=1", "data.pretrain_subset=128",
                          "optim.accumulate=2")) == 0
    ckpt = torch.load(tmp_path / "tiny/last.ckpt", weights_only=False)
    batches = 128 // ckpt["hyper_parameters"]["config"]["data"]["batch_size"]
    assert ckpt["global_step"] == math.ceil(batches / 2)
