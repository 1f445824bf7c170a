"""`infomax ablate`: every row is the full model with exactly one change, all rows share
one budget, results survive a stop, and the table and chart come out."""

from __future__ import annotations

import json

import pytest

from infomax.cli import main
from infomax.config import make_config
from infomax.errors import ConfigError
from infomax.studies import ablation

from conftest import TINY


def _args(root, out, *extra, steps=2):
    return ["ablate", "--preset", "fmnist-tiny", "--no-progress", "--data-dir", str(root),
            "--out", str(out), "--steps", str(steps), *extra, *TINY]


def test_each_row_is_the_full_model_with_one_change(tmp_path):
    base = [*TINY, *ablation.budget_overrides(None, 7)]
    full = ablation.row_config("fmnist-tiny", "full", 3, base, tmp_path).to_dict()
    expected = {"single-scale": {("loss", "multiscale"): False},
                "no-stability": {("loss", "reg_coef"): 0.0, ("loss", "tclip"): 0.0},
                "strong-aug": {("data", "augment"): "fast-autoaugment"},
                "randaugment": {("data", "augment"): "randaugment"},
                "mixtures": {("mixture", "k"): 4},
                "encoder-half": {("model", "ndf"): 4, ("model", "n_rkhs"): 16}}
    assert set(expected) | {"full"} == set(ablation.ROW_NAMES)
    for row, change in expected.items():
        cfg = ablation.row_config("fmnist-tiny", row, 3, base, tmp_path).to_dict()
        diffs = {(section, key): value for section, values in cfg.items()
                 if isinstance(values, dict) for key, value in values.items()
                 if full[section][key] != value and key != "run_name"}
        assert diffs == change, row
        assert cfg["train"]["run_name"] == f"{row}-s3" and cfg["train"]["seed"] == 3
    # The shared budget: 7 steps of one epoch for every row.
    assert full["train"]["epochs"] == 1 and full["train"]["limit_train_batches"] == 7


def test_ablate_end_to_end_then_continue_without_rerunning(fake_fmnist, tmp_path, capsys,
                                                           monkeypatch):
    rc = main(_args(fake_fmnist, tmp_path, "--rows", "single-scale", "mixtures"))
    assert rc == 0
    folder = tmp_path / "fmnist-tiny-ablation"
    doc = json.loads((folder / "ablation.json").read_text())
    assert set(doc["results"]) == {"full@0", "single-scale@0", "mixtures@0"}
    for key, result in doc["results"].items():
        assert result["steps"] == 2, key
        assert 0.0 <= result["linear_top1"] <= 1.0 and 0.0 <= result["knn_top1"] <= 1.0
    ckpt_cfg = (folder / "mixtures-s0" / "config.yaml").read_text()
    assert "k: 4" in ckpt_cfg
    table = (folder / "ablation.md").read_text()
    full_lin = 100 * doc["results"]["full@0"]["linear_top1"]
    mix_lin = 100 * doc["results"]["mixtures@0"]["linear_top1"]
    assert f"| {mix_lin:.2f} | {mix_lin - full_lin:+.2f} |" in table
    assert (folder / "ablation.png").stat().st_size > 5000
    assert "written:" in capsys.readouterr().out

    # A second call with one more row runs that row only: the others are kept.
    ran = []

    def fake_measure(cfg, progress):
        ran.append(cfg.train.run_name)
        raise FloatingPointError("non-finite loss at step 1: l1t7=nan")

    monkeypatch.setattr(ablation, "measure", fake_measure)
    rc = main(_args(fake_fmnist, tmp_path, "--rows", "single-scale", "mixtures",
                    "no-stability"))
    assert rc == 0 and ran == ["no-stability-s0"]
    doc2 = json.loads((folder / "ablation.json").read_text())
    assert doc2["results"]["mixtures@0"] == doc["results"]["mixtures@0"]
    # A failing row is recorded with its reason and shown as failed; the rest stand.
    assert doc2["results"]["no-stability@0"]["failed"].startswith("non-finite loss at step 1")
    assert "| no-stability |" in (folder / "ablation.md").read_text()
    assert "failed: non-finite loss" in (folder / "ablation.md").read_text()

    # Another budget is another experiment: nothing kept is reused for it.
    ran.clear()
    main(_args(fake_fmnist, tmp_path, "--rows", "mixtures", steps=3))
    assert sorted(ran) == ["full-s0", "mixtures-s0"]


def test_summary_averages_seeds_and_measures_changes_from_the_full_model():
    doc = {"preset": "p", "budget": "1 steps", "results": {
        "full@0": {"linear_top1": 0.80, "knn_top1": 0.70},
        "full@1": {"linear_top1": 0.82, "knn_top1": 0.72},
        "mixtures@0": {"linear_top1": 0.84, "knn_top1": 0.69},
        "mixtures@1": {"linear_top1": 0.86, "knn_top1": 0.69},
        "single-scale@0": {"failed": "diverged"}}}
    lines = {line["row"]: line for line in ablation.summarize(doc)}
    assert lines["full"]["linear_top1"] == pytest.approx(81.0)
    assert lines["full"]["linear_top1_spread"] == pytest.approx(2.0)
    assert lines["mixtures"]["linear_top1_change"] == pytest.approx(4.0)
    assert lines["mixtures"]["knn_top1_change"] == pytest.approx(-2.0)
    assert lines["single-scale"]["linear_top1"] is None
    assert lines["single-scale"]["failed"] == ["diverged"]
    only_seed0 = {line["row"]: line for line in ablation.summarize(doc, {"full@0", "mixtures@0"})}
    assert only_seed0["mixtures"]["linear_top1_change"] == pytest.approx(4.0)
    assert "single-scale" not in only_seed0
    text = ablation.table(ablation.summarize(doc), doc)
    assert "| mixtures |" in text and "85.00 ± 1.00" in text and "+4.00" in text


@pytest.mark.parametrize("args,message", [
    (["--rows", "bogus"], "--rows: bogus unknown; choose from full, single-scale"),
    (["method=simclr"], "the ablation is AMDIM's"),
    (["--epochs", "0"], "--epochs: 0 must be >= 1"),
])
def test_bad_ablation_requests_fail_in_one_line_before_any_run(tmp_path, capsys, args, message,
                                                               monkeypatch):
    monkeypatch.setattr(ablation, "measure", lambda cfg, progress: pytest.fail("ran"))
    argv = ["ablate", "--preset", "fmnist-tiny", "--out", str(tmp_path), *args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / "fmnist-tiny-ablation").exists()


def test_epochs_and_steps_are_exclusive():
    with pytest.raises(ConfigError, match="not both"):
        ablation.budget_overrides(2, 3)
    assert make_config("fmnist-tiny", ablation.budget_overrides(3, None)).train.epochs == 3


@pytest.mark.parametrize("kwargs,argv,message", [
    (dict(rows=("bogus",)), ["--rows", "bogus"], "--rows: bogus unknown; choose from full, "
     "single-scale, no-stability, strong-aug, randaugment, mixtures, encoder-half"),
    (dict(epochs=0), ["--epochs", "0"], "--epochs: 0 must be >= 1"),
    (dict(steps=0), ["--steps", "0"], "--steps: 0 must be >= 1"),
    (dict(epochs=2, steps=3), None, "give --epochs or --steps, not both"),
])
def test_options_refuse_bad_values_with_the_commands_messages(tmp_path, capsys, kwargs, argv,
                                                              message):
    with pytest.raises(ConfigError) as e:
        ablation.AblationOptions("fmnist-tiny", out=str(tmp_path), **kwargs)
    assert str(e.value) == message
    if argv is not None:  # the command line gives the same one line
        assert main(["ablate", "--preset", "fmnist-tiny", "--out", str(tmp_path), *argv]) == 2
        assert capsys.readouterr().err == f"infomax: error: {message}\n"


def test_options_have_the_commands_defaults():
    from infomax.cli import _parser

    args = _parser().parse_args(["ablate", "--preset", "p"])
    options = ablation.AblationOptions("p", overrides=["a=1"])
    assert (options.rows, options.seeds, options.epochs, options.steps) == (None,) * 4
    assert (options.out, options.again, options.progress) == (args.out, args.again, True)
    assert options.overrides == ("a=1",)


def test_the_chart_leaves_the_matplotlib_backend_alone(tmp_path, monkeypatch):
    import matplotlib

    monkeypatch.setattr(matplotlib, "use", lambda *a, **k: pytest.fail("chose a backend"))
    doc = {"preset": "p", "budget": "1 steps", "results": {
        "full@0": {"linear_top1": 0.80, "knn_top1": 0.70},
        "mixtures@0": {"linear_top1": 0.84, "knn_top1": 0.69}}}
    ablation.plot(ablation.summarize(doc), doc, tmp_path / "ablation.png")
    assert (tmp_path / "ablation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_stop_signal_stops_the_ablation_and_keeps_the_rows_done(tmp_path, capsys,
                                                                  monkeypatch):
    """SIGTERM during a row (TrainingInterrupted out of its training) ends the whole
    ablation with that exception, as a scheduler's stop means, instead of recording the row
    as failed and starting the next one; the rows finished before it are kept."""
    import signal

    from infomax.errors import TrainingInterrupted

    ran, stop_at = [], [2]

    def fake_measure(cfg, progress):
        ran.append(cfg.train.run_name)
        if len(ran) == stop_at[0]:
            stop_at[0] = None  # one signal
            raise TrainingInterrupted(signal.SIGTERM, 1)
        return {"steps": 2, "linear_top1": 0.5, "knn_top1": 0.5}

    monkeypatch.setattr(ablation, "measure", fake_measure)
    with pytest.raises(TrainingInterrupted):
        ablation.ablate("fmnist-tiny", rows=["single-scale", "mixtures"], steps=2,
                        out=tmp_path, overrides=TINY, progress=False)
    assert ran == ["full-s0", "single-scale-s0"]  # mixtures never started
    doc = json.loads((tmp_path / "fmnist-tiny-ablation" / "ablation.json").read_text())
    assert set(doc["results"]) == {"full@0"} and "failed" not in doc["results"]["full@0"]
    # From the command line: the signal's exit status, and the next call goes on with the
    # rows not done.
    monkeypatch.setattr(ablation, "measure", lambda cfg, progress: (_ for _ in ()).throw(
        TrainingInterrupted(signal.SIGTERM, 1)))
    argv = ["ablate", "--preset", "fmnist-tiny", "--no-progress", "--out", str(tmp_path),
            "--steps", "2", "--rows", "single-scale", "mixtures", *TINY]
    assert main(argv) == 128 + signal.SIGTERM
    ran.clear()
    monkeypatch.setattr(ablation, "measure", fake_measure)
    assert main(argv) == 0 and ran == ["single-scale-s0", "mixtures-s0"]
