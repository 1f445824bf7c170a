"""Run folders written by earlier infomax code (tests/fixtures/legacy, made by
make_legacy_runs.py at commit 33c5938) still work: probe, embed, report and --resume give
what that code gave on the same files (figures measured with it)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from infomax.cli import main

LEGACY = Path(__file__).parent / "fixtures" / "legacy"

# name -> (linear top-1, kNN top-1, sum of the 320 embeddings, sum of the encoder's weights
# after resuming to 2 epochs), as the code that wrote the folders measured them.
EXPECTED = {
    "amdim": (0.125, 0.4375, 495.7670675394078, 179.95581336214929),
    "instdisc": (0.171875, 0.40625, 612.8921011231306, 252.82081450298705),
}

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_legacy_run_probes_embeds_reports_and_resumes(name, fake_fmnist, tmp_path):
    linear, knn, embed_sum, resumed_sum = EXPECTED[name]
    run = tmp_path / name
    shutil.copytree(LEGACY / name, run)
    ckpt = run / "last.ckpt"
    root = str(fake_fmnist)

    assert main(["probe", str(ckpt), "--data-dir", root, "--protocol", "linear", "knn",
                 "--no-progress"]) == 0
    res = json.loads((run / "probe-last.json").read_text())
    assert res["linear"]["top1"] == linear
    assert res["knn"]["top1"] == knn

    out = tmp_path / f"{name}.npz"
    assert main(["embed", str(ckpt), "--data-dir", root, "-o", str(out), "--no-progress"]) == 0
    feats = np.load(out)["features"]
    assert feats.shape == (320, 32)
    assert float(feats.astype(np.float64).sum()) == pytest.approx(embed_sum, rel=1e-5)

    assert main(["report", str(run), "--data-dir", root, "--no-progress"]) == 0
    assert (run / "report" / "index.html").is_file()

    assert main(["pretrain", "--resume", str(ckpt), "--data-dir", root, "--out",
                 str(tmp_path / "resumed"), "--name", name, "--no-progress",
                 "train.epochs=2"]) == 0
    resumed = torch.load(tmp_path / "resumed" / name / "last.ckpt", weights_only=True)
    assert resumed["global_step"] == 8
    total = sum(float(v.double().sum()) for k, v in resumed["state_dict"].items()
                if k.startswith("encoder.") and v.is_floating_point())
    assert total == pytest.approx(resumed_sum, rel=1e-5)


def test_a_saved_config_without_views_or_optimizer_keys_keeps_the_defaults_it_trained_with():
    # The instdisc run's config.yaml predates recipes and the views section: it trained
    # with Adam and AMDIM's views, which make_config must give it (not InstDisc's recipe),
    # and a config that gives it the recipe cannot resume it.
    from infomax.config import ViewsConfig, load_config_file, make_config
    from infomax.engine.resume import resume_changes
    from infomax.errors import InfomaxError

    saved = load_config_file(LEGACY / "instdisc" / "config.yaml")
    assert "views" not in saved and "name" not in saved["optim"]
    cfg = make_config(None, [], base=saved)
    assert cfg.recipe is None and cfg.optim.name == "adam" and cfg.views == ViewsConfig()
    assert cfg.optim.lr == saved["optim"]["lr"]
    assert resume_changes(saved, cfg, "last.ckpt") == []
    # A user's config of the same method without those sections gets the recipe ...
    user = {k: v for k, v in saved.items() if k not in ("optim", "preset")}
    fresh = make_config(None, [], base=user)
    assert fresh.recipe == "instdisc" and fresh.optim.name == "sgd"
    assert fresh.views.crop_scale == [0.2, 1.0]
    # ... and cannot resume the run, which trained on other views with another optimizer.
    with pytest.raises(InfomaxError, match="optim.name: 'adam' there, 'sgd' here"):
        resume_changes(saved, fresh, "last.ckpt")
