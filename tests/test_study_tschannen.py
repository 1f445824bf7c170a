"""The Tschannen et al. (ICLR 2020) study, ``infomax study tschannen``: its views, its
encoders (Sec. 3.2 and 3.3), its linear evaluation, and an end-to-end run on fake data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from infomax.studies import tschannen as ts


def test_halves_are_rows_0_to_13_and_14_to_27():
    # Pixel value = 9 * row + column parity, so every pixel says where it came from.
    rows = torch.arange(28)[:, None].expand(28, 28)
    cols = torch.arange(28)[None, :].expand(28, 28)
    image = (rows * 9 + cols % 2).to(torch.uint8)
    images = torch.stack([image, 255 - image])[:, None]  # (2, 1, 28, 28)
    top, bottom = ts.split_halves(images)
    assert top.shape == bottom.shape == (2, 392)
    assert top.dtype == torch.float32
    assert 0.0 <= float(top.min()) and float(bottom.max()) <= 1.0
    expected = images.float() / 255.0
    assert torch.equal(top, expected[:, 0, :14].reshape(2, -1))
    assert torch.equal(bottom, expected[:, 0, 14:].reshape(2, -1))
    # Row r of the top half is pixels [28 r, 28 r + 28) of its flattened vector.
    assert torch.allclose(top[0, 28 * 13:28 * 14], expected[0, 0, 13])
    assert torch.allclose(bottom[0, :28], expected[0, 0, 14])
    # (N, 28, 28) without the channel axis works too; other sizes are refused.
    assert torch.equal(ts.split_halves(images[:, 0])[1], bottom)
    with pytest.raises(ts.ConfigError):
        ts.split_halves(torch.zeros(2, 1, 32, 32, dtype=torch.uint8))


def test_mlp_encoder_is_300_300_100():
    enc = ts.make_encoder("mlp")
    assert enc(torch.rand(5, 392)).shape == (5, 100)
    linears = [m for m in enc.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(392, 300), (300, 300),
                                                                   (300, 100)]
    assert sum(isinstance(m, torch.nn.ReLU) for m in enc.modules()) == 2  # linear code
    assert all(not m.bias.detach().any() for m in linears)  # Keras-style zero biases


def test_convnet_architecture_layernorm_gap_dense100():
    enc = ts.make_encoder("convnet")
    c1, c2 = enc.conv1, enc.conv2
    assert (c1.in_channels, c1.out_channels, c1.kernel_size, c1.stride) == (1, 64, (5, 5), (2, 2))
    assert (c2.in_channels, c2.out_channels, c2.kernel_size, c2.stride) == (64, 128, (5, 5), (2, 2))
    assert isinstance(enc.norm, ts.LayerNorm2d)
    assert (enc.fc.in_features, enc.fc.out_features) == (128, 100)

    seen = {}
    enc.norm.register_forward_hook(lambda m, i, o: seen.update(pre=i[0], post=o))
    enc.fc.register_forward_hook(lambda m, i, o: seen.update(pooled=i[0]))
    x = torch.rand(3, 1, 14, 28)
    out = enc(x)
    assert out.shape == (3, 100)
    # "same" padding, stride 2 twice: 14x28 -> 7x14 -> 4x7.
    assert seen["post"].shape == (3, 128, 4, 7)
    # LayerNorm over C, H and W together (unit affine at initialisation).
    flat = seen["post"].reshape(3, -1)
    assert torch.allclose(flat.mean(1), torch.zeros(3), atol=1e-5)
    # Its std is 1 up to LayerNorm's eps: sqrt(var / (var + eps)) of the input's variance
    # (unseeded weights and inputs: the small variance of some draws puts it near 0.999).
    var = seen["pre"].reshape(3, -1).var(1, unbiased=False)
    assert torch.allclose(flat.std(1, unbiased=False), torch.sqrt(var / (var + enc.norm.eps)),
                          atol=1e-5)
    # Global average pooling feeds the dense layer.
    assert torch.allclose(seen["pooled"], seen["post"].mean(dim=(2, 3)), atol=1e-6)
    # The flattened half (the notebook's input) gives the same codes.
    assert torch.allclose(enc(x.reshape(3, 392)), out, atol=1e-6)


def test_linear_evaluation_separable_codes_and_shuffled_labels():
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 4, (10, 20))

    def codes(n):
        y = rng.integers(0, 10, n)
        return centers[y] + rng.normal(0, 0.5, (n, 20)), y

    xtr, ytr = codes(2000)
    xte, yte = codes(1000)
    assert ts.linear_accuracy(xtr, ytr, xte, yte) > 0.97
    # Labels unrelated to the codes: chance (10 classes).
    chance = ts.linear_accuracy(xtr, rng.permutation(ytr), xte, rng.permutation(yte))
    assert abs(chance - 0.1) < 0.05
    # A diverged run's codes are reported as NaN, not as an error.
    xbad = xtr.copy()
    xbad[0, 0] = np.nan
    assert np.isnan(ts.linear_accuracy(xbad, ytr, xte, yte))


def test_noisy_pixel_baseline_is_the_linear_evaluation_on_seeded_noisy_pixels():
    rng = np.random.default_rng(1)
    centers = rng.uniform(0, 1, (10, 30))
    ytr, yte = rng.integers(0, 10, 600), rng.integers(0, 10, 300)
    xtr = np.clip(centers[ytr] + rng.normal(0, 0.2, (600, 30)), 0, 1)
    xte = np.clip(centers[yte] + rng.normal(0, 0.2, (300, 30)), 0, 1)
    # Without noise it is the clean baseline, draw after draw.
    clean = ts.noisy_pixel_baseline(xtr, ytr, xte, yte, std=0.0, draws=2)
    assert clean["draws"] == [ts.linear_accuracy(xtr, ytr, xte, yte)] * 2
    # Draw k adds N(0, std^2) from seed k to the training, then the test pixels.
    res = ts.noisy_pixel_baseline(xtr, ytr, xte, yte, std=0.3, draws=3)
    assert res["std"] == 0.3 and len(res["draws"]) == 3
    assert res["mean"] == pytest.approx(np.mean(res["draws"]))
    g = np.random.default_rng(1)
    noisy_tr = xtr + 0.3 * g.standard_normal(xtr.shape)
    noisy_te = xte + 0.3 * g.standard_normal(xte.shape)
    assert res["draws"][1] == ts.linear_accuracy(noisy_tr, ytr, noisy_te, yte)
    # Noise this strong costs accuracy: the noise is really there.
    assert res["mean"] < clean["draws"][0]


def test_plans_name_their_reductions():
    paper = ts.make_plan()
    assert (paper.seeds, paper.critic_iterations, paper.critic_eval_every) == (20, 21000, 1000)
    assert paper.reductions == [] and paper.eval_train_size is None
    quick = ts.make_plan(quick=True)
    assert quick.seeds == 2 and quick.critic_iterations < 21000 and quick.reductions
    assert ts.make_plan(quick=True, iterations=20, seeds=1).encoder_iterations == 20
    with pytest.raises(ts.ConfigError):
        ts.make_plan(iterations=0)
    assert ts._eval_points(20, 6) == [0, 6, 12, 18, 20]
    assert ts._eval_points(20, 5) == [0, 5, 10, 15, 20]
    assert ts._pm(0.5, 0.01, 2, 2) == "0.5000 ± 0.0100" and ts._pm(0.5, 0.0, 1, 1) == "0.5000"
    assert ts._pm(0.5, 0.0, 1, 2) == "0.5000 ± 0.0000 (1 of 2 diverged)"


@pytest.mark.slow
def test_cli_quick_run_on_fake_data(fake_fmnist, tmp_path):
    from infomax.cli import main

    out = tmp_path / "study"
    rc = main(["study", "tschannen", "--data", "fashion-mnist", "--data-dir", str(fake_fmnist),
               "--quick", "--iterations", "20", "--seeds", "1", "-o", str(out),
               "--no-progress"])
    assert rc == 0
    for name in ("results.json", "table.md", "critic_accuracy.png", "critic_estimate.png",
                 "encoder.png"):
        assert (out / name).is_file(), name
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    res = json.loads((out / "results.json").read_text())
    assert res["data"] == "fashion-mnist" and res["quick"]
    assert 0.0 <= res["pixel_baseline"] <= 1.0
    noisy = res["pixel_baseline_noisy"]
    assert noisy["std"] == 0.05 and len(noisy["draws"]) == 3
    assert all(0.0 <= a <= 1.0 for a in noisy["draws"])
    assert res["plan"]["reductions"]
    critic = res["results"]["critic"]
    assert set(critic) == {f"{c}/{e}" for c in ts.CRITICS for e in ts.ESTIMATORS}
    for entry in critic.values():
        (run,) = entry["runs"]
        assert run["iterations"][0] == 0 and run["iterations"][-1] == 20
        assert len(run["accuracy"]) == len(run["estimate"]) == len(run["iterations"])
        assert all(0.0 <= a <= 1.0 for a in run["accuracy"] if a is not None)
    encoder = res["results"]["encoder"]
    assert set(encoder) == {"convnet/t=2", "convnet/t=4", "mlp/t=2", "mlp/t=4"}
    table = (out / "table.md").read_text()
    assert "Pixel baseline" in table and "InfoNCE" in table and "ConvNet" in table
    assert f"noise draws: {', '.join(f'{a:.4f}' for a in noisy['draws'])}" in table
    assert "instead of 20" in table  # the reductions are stated
    # One run per setting: values without a spread, and no plural "1 runs".
    assert "1 run per setting" in table and "1 runs" not in table and "±" not in table
    # --replot writes the table and the plots again from results.json, training nothing.
    for name in ("table.md", "critic_accuracy.png", "encoder.png"):
        (out / name).unlink()
    before = (out / "results.json").read_bytes()
    assert main(["study", "tschannen", "--replot", "-o", str(out)]) == 0
    assert (out / "table.md").read_text() == table
    assert (out / "critic_accuracy.png").is_file() and (out / "encoder.png").is_file()
    assert (out / "results.json").read_bytes() == before
    # Results written before the noisy baseline existed still replot, without it.
    old = json.loads(before)
    del old["pixel_baseline_noisy"]
    (out / "results.json").write_text(json.dumps(old))
    assert main(["study", "tschannen", "--replot", "-o", str(out)]) == 0
    replotted = (out / "table.md").read_text()
    assert "noise draws" not in replotted and "Pixel baseline" in replotted


def test_cli_reports_missing_data(fake_fmnist, tmp_path, capsys):
    from infomax.cli import main

    (tmp_path / "empty").mkdir()  # a root that exists but holds no data
    rc = main(["study", "tschannen", "--data", "fashion-mnist", "--data-dir",
               str(tmp_path / "empty"), "--quick", "--no-progress", "-o", str(tmp_path / "o")])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("infomax: error: fashion-mnist not found") and "\n" not in err


def test_replot_refuses_a_folder_without_results(tmp_path, capsys):
    from infomax.cli import main

    assert main(["study", "tschannen", "--replot", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "no " in err and "results.json" in err and "\n" not in err
    (tmp_path / "results.json").write_text('{"plan": 3}')
    assert main(["study", "tschannen", "--replot", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "is not a results.json written by this study" in err and "\n" not in err


def test_accuracy_axes_keep_the_untrained_start_and_bound_axes_leave_it_out():
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    curves = [np.array([[0.70, 0.75, 0.76], [0.71, 0.74, 0.77]])]  # runs x evaluations
    ts._zoom(ax, curves, [0.78], first=True)
    assert ax.get_ylim()[0] < 0.70 and ax.get_ylim()[1] > 0.78
    ts._zoom(ax, curves, [0.78])
    assert 0.71 < ax.get_ylim()[0] < 0.74


@pytest.mark.parametrize("kwargs,argv,message", [
    (dict(seeds=0), ["--seeds", "0"], "--seeds must be at least 1, got 0"),
    (dict(iterations=0), ["--iterations", "0"], "--iterations must be at least 1, got 0"),
    (dict(data="cifar10"), ["--data", "cifar10"],
     "--data: 'cifar10' is not valid for this study; choose mnist or fashion-mnist"),
])
def test_options_refuse_bad_values_with_the_commands_messages(tmp_path, capsys, kwargs, argv,
                                                              message):
    from infomax.cli import main

    with pytest.raises(ts.ConfigError) as e:
        ts.TschannenOptions(output=str(tmp_path), **kwargs)
    assert str(e.value) == message
    assert main(["study", "tschannen", *argv, "-o", str(tmp_path), "--no-progress"]) == 2
    assert capsys.readouterr().err == f"infomax: error: {message}\n"
    # --replot reads only the results in --output: the rest is not checked.
    assert ts.TschannenOptions(replot=True, **kwargs).replot


def test_options_have_the_commands_defaults():
    from infomax.cli import _parser

    args = vars(_parser().parse_args(["study", "tschannen"]))
    options = ts.TschannenOptions()
    for name, value in args.items():
        if name not in ("command", "study", "no_progress"):
            assert getattr(options, name) == (tuple(value) if isinstance(value, list)
                                              else value), name
    assert options.progress
