"""``infomax report``: the four pictures and the self-contained HTML page of a tiny run on
the fake Fashion-MNIST, its rendering in headless Chromium, and the one-line errors."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from infomax.errors import InfomaxError
from infomax.config import make_config
from infomax.report import (_accuracy_caption, _project, plot_accuracy, plot_losses,
                            read_metrics, write_report)

PICTURES = ("losses.png", "accuracy.png", "embedding.png", "retrieval.png")

# A probe result as 'infomax probe' writes it (linear, kNN and label fractions).
PROBE = {
    "checkpoint": "last.ckpt", "data": "fashion-mnist", "train_images": 256,
    "test_images": 64, "feature_dim": 32,
    "protocol": {"epochs": 2, "milestones": [1], "lr": 0.001, "batch_size": 256},
    "linear": {"top1": 0.4321, "top5": 0.9012, "train_top1": 0.5},
    "knn": {"top1": 0.3725, "top5": 0.8125, "k": 200, "temperature": 0.1},
    "fractions": {"1%": {"mean": 0.25, "std": 0.01,
                         "draws": [{"seed": s, "labels": 10, "top1": t, "top5": 0.7}
                                   for s, t in enumerate((0.24, 0.25, 0.26))]}},
}
TABLES = 3  # probes, online metrics (summary.json), config


@pytest.fixture(scope="module")
def report(tiny_run, fake_fmnist_session, tmp_path_factory, module_registry) -> Path:
    """The report of a copy of the tiny run (with a probe result), written once."""
    run = tmp_path_factory.mktemp("report") / "tiny"
    shutil.copytree(tiny_run, run)
    (run / "probe-last.json").write_text(json.dumps(PROBE))
    index = write_report(run, data_dir=str(fake_fmnist_session), progress=False,
                         max_points=48, seed=0)
    assert index == run / "report" / "index.html"
    return index


def assert_png(path: Path) -> None:
    assert path.is_file(), path
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert im.width > 100 and im.height > 100, (path, im.size)
        im.verify()


@pytest.mark.slow
def test_report_writes_the_pictures_and_a_self_contained_page(report):
    for name in PICTURES:
        assert_png(report.parent / name)
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "infomax report: tiny" in page
    # Nothing loaded from outside: every image is a data URI.
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert "http://" not in page and "https://" not in page
    uris = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(uris) == 4 and page.count("<img") == 4
    for uri in uris:
        with Image.open(io.BytesIO(base64.b64decode(uri))) as im:
            assert im.format == "PNG" and im.width > 100
    # The summary line names the steps, the epochs and the checkpoint used.
    assert "16 training steps; 2 epochs" in page and "last.ckpt" in page
    # The config table, flattened keys (TINY sets model.ndf=8).
    assert re.search(r'<td>model\.ndf</td><td class="num">8</td>', page)
    assert re.search(r'<td>data\.name</td><td class="num">fashion-mnist</td>', page)
    # The probe table: one row per protocol, accuracies in percent.
    assert "<td>probe-last.json</td><td>linear probe</td>" in page
    assert "43.21%" in page and "90.12%" in page and "37.25%" in page
    assert "25.00% ± 1.00%" in page and "linear, label fraction 1%" in page
    assert "3 (24.00%, 25.00%, 26.00%)" in page
    # summary.json's online metrics.
    assert "<td>val/linear_acc</td>" in page and "<td>val/mlp_acc</td>" in page
    assert page.count("<table") == TABLES
    assert "document.body.dataset.rendered" in page
    # The accuracy caption says what the probes learned on (TINY: the public code's probes).
    assert "detached features of the augmented views)" in page
    # The 2-D map says which method drew it.
    assert "t-SNE of 48 test-set features" in page or "UMAP of 48" in page


def test_the_accuracy_caption_names_the_probes_views_and_averaging():
    plain = _accuracy_caption(make_config("fmnist-tiny", ["probe.online_view=augmented",
                                                          "probe.online_ema=0"]))
    assert "of the augmented views" in plain and "moving average of the probes" not in plain
    demo = _accuracy_caption(make_config("fmnist-tiny", ["probe.online_view=test",
                                                         "probe.online_ema=0.98"]))
    assert "of the test-time views of the training images" in demo
    assert "a moving average of the probes' weights (decay 0.98 per update)" in demo


@pytest.mark.slow
def test_report_renders_in_headless_chromium(report, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("headless Chromium is not installed (make chromium installs Debian's)")
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
           "--dump-dom", report.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f'data-rendered="images=4/4 tables={TABLES}"' in proc.stdout, (
        re.findall(r"<body[^>]*>", proc.stdout), proc.stderr[-2000:])


LIGHTNING_CSV = """epoch,lr,step,train/l1t5,train/loss,train/linear_acc,val/linear_acc
0,0.001,0,7.5,24.0,0.25,
0,0.001,1,7.0,nan,0.5,
0,,1,,,,0.4
1,0.001,2,,22.0,0.75,
"""


def test_metrics_skip_empty_and_non_finite_cells_and_plots_draw_what_exists(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text(LIGHTNING_CSV)
    m = read_metrics(path)
    assert m["train/l1t5"][0].tolist() == [0, 1] and m["train/l1t5"][1].tolist() == [7.5, 7.0]
    assert m["train/loss"][0].tolist() == [0, 2]  # the NaN is skipped
    assert m["val/linear_acc"][0].tolist() == [1] and m["val/linear_acc"][1].tolist() == [0.4]
    assert "train/reg" not in m and "train/mlp_acc" not in m
    assert_png(plot_losses(m, tmp_path / "losses.png"))  # no regularizer: an empty panel
    assert_png(plot_accuracy(m, tmp_path / "accuracy.png"))
    assert_png(plot_losses({}, tmp_path / "nothing.png"))


def test_user_errors_are_one_line_and_name_the_path(tmp_path):
    missing = tmp_path / "no-such-run"
    with pytest.raises(InfomaxError, match="run folder .*no-such-run does not exist") as e:
        write_report(missing, progress=False)
    assert "\n" not in str(e.value)

    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(InfomaxError, match=r"metrics\.csv not found") as e:
        write_report(run, progress=False)
    assert "\n" not in str(e.value) and str(run) in str(e.value)

    (run / "csv").mkdir()
    (run / "csv" / "metrics.csv").write_text(LIGHTNING_CSV)
    with pytest.raises(InfomaxError, match=r"last\.ckpt does not exist") as e:
        write_report(run, progress=False)
    assert "\n" not in str(e.value)
    with pytest.raises(InfomaxError, match=r"other\.ckpt does not exist"):
        write_report(run, checkpoint=run / "other.ckpt", progress=False)
    assert not (run / "report").exists()  # nothing written before the checks


def _clusters(n: int = 60, k: int = 4, dim: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """k tight clusters on orthogonal directions (far apart in cosine geometry)."""
    rng = np.random.default_rng(0)
    x = np.concatenate([0.15 * rng.normal(size=(n, dim)) + np.eye(dim)[c] for c in range(k)])
    return x, np.repeat(np.arange(k), n)


def _nearest_centroid_accuracy(xy: np.ndarray, y: np.ndarray) -> float:
    centroids = np.stack([xy[y == c].mean(0) for c in np.unique(y)])
    guess = np.linalg.norm(xy[:, None] - centroids[None], axis=2).argmin(1)
    return float((guess == y).mean())


def test_map_is_umap_when_it_imports_and_keeps_the_clusters():
    pytest.importorskip("umap")
    x, y = _clusters()
    xy, name = _project(x, seed=0)
    assert name == "UMAP" and xy.shape == (len(x), 2) and np.isfinite(xy).all()
    assert _nearest_centroid_accuracy(xy, y) == 1.0
    again, _ = _project(x, seed=0)
    np.testing.assert_allclose(again, xy)  # a seeded map is reproducible


def test_map_falls_back_to_tsne_without_umap(monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)  # 'import umap' now raises ImportError
    x, y = _clusters()
    xy, name = _project(x, seed=0)
    assert name == "t-SNE" and xy.shape == (len(x), 2) and np.isfinite(xy).all()
    assert _nearest_centroid_accuracy(xy, y) == 1.0


def test_a_fine_tuning_result_is_one_row_of_scores_labelled_with_its_labels_and_schedule():
    from infomax.report import probe_rows

    finetune = {"top1": 0.5, "top5": 0.9, "train_top1": 0.75, "epochs": 30, "lr": 0.05,
                "batch_size": 256, "label_fraction": 0.1, "labels": 600, "device": "cpu",
                "momentum": 0.9, "schedule": "SGD, Nesterov momentum, cosine to 0"}
    every = dict(finetune, label_fraction=1.0, labels=6000, epochs=15)
    columns, rows = probe_rows({"a.json": {"finetune": finetune, "knn": {"top1": 0.25}},
                                "b.json": {"finetune": every}})
    assert columns == ["top1", "top5", "train_top1"]
    assert rows[0] == ("a.json", "fine-tuned, 10% of the labels (600 images), 30 epochs, cpu",
                       {"top1": "50.00%", "top5": "90.00%", "train_top1": "75.00%"})
    assert rows[1] == ("a.json", "weighted kNN", {"top1": "25.00%"})
    assert rows[2][1] == "fine-tuned, every label (6000 images), 15 epochs, cpu"
