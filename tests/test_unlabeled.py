"""Unlabeled image folders, optional labels with ``data.eval``, ``data.image_size`` per
encoder, and Datasets given from Python (``infomax.load_config`` / ``infomax.pretrain``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import Dataset

import infomax
from conftest import TINY
from infomax.cli import main
from infomax.config import make_config
from infomax.data.module import PretrainData, SeededItems
from infomax.data.registry import build_dataset, class_names, dataset_info
from infomax.errors import ConfigError, DataNotFoundError

RNG = np.random.default_rng(7)


def save(path: Path, array: np.ndarray, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **kwargs)
    return path


def rgb(h: int = 32, w: int = 32) -> np.ndarray:
    return RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)


def unlabeled_tree(base: Path, n: int = 40) -> list[Path]:
    """``n`` 32x32 images in a nested tree (several formats), plus files to leave out."""
    files = []
    for i in range(n):
        folder = base / f"day{i % 3}" / ("burst" if i % 4 == 0 else "")
        ext = ("png", "jpg", "gif", "tga", "bmp")[i % 5]
        files.append(save(folder / f"img{i:03d}.{ext}", rgb()))
    save(base / ".thumbs" / "hidden.png", rgb())  # a hidden folder
    save(base / ".hidden.png", rgb())  # a hidden file
    (base / "notes.txt").write_text("not an image")
    return files


def labeled_folder(base: Path, n_train: int = 24, n_val: int = 12) -> str:
    for split, n in (("train", n_train), ("val", n_val)):
        for i in range(n):
            save(base / split / ("ab"[i % 2]) / f"{i}.png", rgb())
    return f"imagefolder:{base}"


def one_line(err: BaseException) -> str:
    text = str(err)
    assert "\n" not in text and "Traceback" not in text, text
    return text


def tiny(out: Path, data: str, *extra: str) -> list[str]:
    return ["pretrain", "--preset", "fmnist-tiny", "--no-progress", "--data", data, "--out",
            str(out), "--name", "run", *TINY, "data.image_size=32", "data.batch_size=8", *extra]


# ----------------------------------------------------------------------------- the layouts


def test_an_unlabeled_tree_gives_every_image_once_sorted_and_unlabeled(tmp_path):
    files = unlabeled_tree(tmp_path / "photos")
    name = f"imagefolder:{tmp_path / 'photos'}"
    assert dataset_info(name).num_classes == 0 and class_names(name) is None
    data = build_dataset(name, "pretrain", tmp_path)
    paths = [p for p, _ in data.samples]
    assert sorted(paths) == sorted(map(str, files))  # hidden files and folders left out
    assert len(set(paths)) == len(paths) == 40
    # torchvision's walk order: folders sorted, each folder's files sorted
    by_folder = [(str(Path(p).parent), Path(p).name) for p in paths]
    assert by_folder == sorted(by_folder)
    assert data.targets.eq(-1).all()
    image, label = data[0]
    assert image.dtype == torch.uint8 and image.shape == (3, 32, 32) and label == -1
    assert data.description.endswith("unlabeled, 40 images in 6 folders (for labels: "
                                     "train/<class>/ and val/<class>/)")
    for split in ("train", "test"):
        with pytest.raises(DataNotFoundError) as err:
            build_dataset(name, split, tmp_path)
        assert "has no labels" in one_line(err.value) and "data.eval" in str(err.value)


def test_a_flat_folder_and_class_folders_without_splits_are_unlabeled(tmp_path):
    for i in range(3):
        save(tmp_path / "flat" / f"{i}.png", rgb())
        save(tmp_path / "classes" / ("cat", "dog")[i % 2] / f"{i}.png", rgb())
    flat = build_dataset(f"imagefolder:{tmp_path / 'flat'}", "pretrain", tmp_path)
    assert len(flat) == 3 and flat.description.endswith("unlabeled, 3 images in 1 folder")
    classes = build_dataset(f"imagefolder:{tmp_path / 'classes'}", "pretrain", tmp_path)
    assert len(classes) == 3 and "(for labels: train/<class>/" in classes.description


def test_the_labeled_layout_still_gives_labels(tmp_path):
    name = labeled_folder(tmp_path / "imgs")
    assert dataset_info(name).num_classes == 2 and class_names(name) == ("a", "b")
    data = build_dataset(name, "pretrain", tmp_path)
    assert sorted(set(data.targets.tolist())) == [0, 1]
    assert data.description.endswith("labeled, 24 images in 2 classes (train/)")


def test_a_folder_with_no_readable_image_is_refused_in_one_line(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "sub" / "a.txt").write_text("x")
    with pytest.raises(DataNotFoundError) as err:
        build_dataset(f"imagefolder:{tmp_path / 'empty'}", "pretrain", tmp_path)
    assert "no image files" in one_line(err.value)


# ----------------------------------------------------------------------------- image sizes


def test_the_image_size_is_checked_against_the_encoder():
    assert make_config("fmnist-tiny", ["data.image_size=64"]).data.image_size == 64
    with pytest.raises(ConfigError) as err:
        make_config("fmnist-tiny", ["data.image_size=48"])
    assert one_line(err.value) == ("data.image_size: the amdim encoder takes 32, 64 or 128 px "
                                   "images, not 48; set data.image_size to one of those (or "
                                   "choose another model.encoder)")
    assert make_config("fmnist-tiny", ["method=simclr", "model.encoder=resnet18",
                                       "data.image_size=48"]).data.image_size == 48
    with pytest.raises(ConfigError) as err:
        make_config("fmnist-tiny", ["method=simclr", "model.encoder=resnet18", "data.image_size=16"])
    assert "too small; it must be >= 32" in one_line(err.value)
    for bad, words in ((["data.channels=2"], "choose 1 or 3"),
                       (["data.channels=1", "data.mean=[0.5, 0.5]"], "one per channel"),
                       (["data.std=[0.2, 0.0, 0.2]"], "positive")):
        with pytest.raises(ConfigError) as err:
            make_config("fmnist-tiny", bad)
        assert words in one_line(err.value)


def test_the_data_settings_reach_the_source(fake_fmnist, tmp_path):
    cfg = make_config("fmnist-tiny", [f"data.dir={fake_fmnist}", "data.image_size=64",
                                      "data.mean=[0.3]", "data.std=[0.4]"])
    info = PretrainData(cfg.data).info
    assert (info.image_size, info.channels, info.mean, info.std) == (64, 1, (0.3,), (0.4,))
    assert info.num_classes == 10 and info.pad_to_32


# ----------------------------------------------------------------------------- runs


@pytest.mark.slow
def test_an_unlabeled_run_trains_without_probes_and_says_so(tmp_path, capfd, fake_fmnist):
    unlabeled_tree(tmp_path / "photos", n=24)
    out = tmp_path / "runs"
    assert main(tiny(out, f"imagefolder:{tmp_path / 'photos'}")) == 0
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("infomax:")]
    assert lines[0].endswith("unlabeled, 24 images in 6 folders (for labels: train/<class>/ "
                             "and val/<class>/)")
    assert "has no labels and data.eval is not set: pretraining without online probes" in lines[1]
    assert "no best.ckpt" in lines[1]
    run = out / "run"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["online_probes"] is False and summary["eval_data"] is None
    assert summary["best_checkpoint"] is None and summary["online"] == {}
    assert (run / "last.ckpt").is_file() and not (run / "best.ckpt").exists()
    ckpt = torch.load(run / "last.ckpt", weights_only=True)
    assert not any(k.startswith("probes.") for k in ckpt["state_dict"])
    # probe: the run has no labeled source; --data names one
    assert main(["probe", str(run / "last.ckpt"), "--no-progress"]) == 2
    assert "has no labels, and names no data.eval; pass --data" in capfd.readouterr().err
    labeled = labeled_folder(tmp_path / "labeled")
    assert main(["probe", str(run / "last.ckpt"), "--no-progress", "--data", labeled,
                 "--protocol", "knn"]) == 0
    result = json.loads((run / "probe-last.json").read_text())
    assert result["transfer"] is True and 0 <= result["knn"]["top1"] <= 100
    # the report: the losses, and why there is nothing else
    assert main(["report", str(run), "--no-progress"]) == 0
    page = (run / "report" / "index.html").read_text()
    assert "unlabeled; no data.eval, so no online probes" in page
    assert (run / "report" / "losses.png").is_file()


@pytest.mark.slow
def test_data_eval_gives_an_unlabeled_run_its_probes_and_best_checkpoint(tmp_path, capfd):
    unlabeled_tree(tmp_path / "photos", n=24)
    labeled = labeled_folder(tmp_path / "labeled")
    out = tmp_path / "runs"
    assert main(tiny(out, f"imagefolder:{tmp_path / 'photos'}", f"data.eval={labeled}",
                     "train.epochs=2")) == 0
    err = capfd.readouterr().err
    assert f"online probes learn on and are scored on {labeled} (data.eval)" in err
    run = out / "run"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["online_probes"] is True and summary["eval_data"] == labeled
    assert set(summary["online"]) == {"val/linear_acc", "val/mlp_acc"}
    assert summary["best_checkpoint"] == str(run / "best.ckpt")
    # probe defaults to the run's eval source, and it is not a transfer
    assert main(["probe", str(run / "last.ckpt"), "--no-progress", "--protocol", "knn"]) == 0
    result = json.loads((run / "probe-last.json").read_text())
    assert result["data"] == labeled and result["transfer"] is False
    assert result["train_images"] == 24 and result["test_images"] == 12
    assert main(["report", str(run), "--no-progress"]) == 0
    assert f"probes on {labeled} (data.eval)" in (run / "report" / "index.html").read_text()


def test_a_data_eval_without_labels_is_refused_in_one_line(tmp_path, fake_fmnist, capfd):
    unlabeled_tree(tmp_path / "photos", n=8)
    rc = main(tiny(tmp_path / "runs", "fashion-mnist", f"data.eval=imagefolder:{tmp_path / 'photos'}",
                   "--data-dir", str(fake_fmnist)))
    err = capfd.readouterr().err
    assert rc == 2
    (line,) = [line for line in err.splitlines() if line.startswith("infomax: error")]
    assert "data.eval: imagefolder:" in line and "has no labels; name a labeled source" in line
    assert not (tmp_path / "runs" / "run" / "last.ckpt").exists()


def test_each_item_brings_an_eval_image_every_one_in_turn():
    class Numbers(Dataset):
        def __init__(self, n):
            self.n = n

        def __len__(self):
            return self.n

        def __getitem__(self, i):
            return (torch.tensor(i), torch.tensor(-i)), -1

    class Labeled(Numbers):
        def __getitem__(self, i):
            return torch.tensor(100 + i), i % 3

    items = SeededItems(Numbers(5), seed=0, probe_items=Labeled(7))
    seen = []
    for epoch in range(7):
        for i in range(5):
            (v1, v2, probe), label = items[(i, epoch)]
            assert (int(v1), int(v2)) == (i, -i) and label == (int(probe) - 100) % 3
            seen.append(int(probe) - 100)
    # 35 items over 7 eval images: each 5 times, in turn
    assert seen == [k % 7 for k in range(35)]


# ----------------------------------------------------------------------------- Python


class Photos(Dataset):
    """Items of the kinds a user's Dataset yields."""

    def __init__(self, n: int, kind: str = "pil", labeled: bool = False) -> None:
        rng = np.random.default_rng(n)
        self.images = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(n)]
        self.kind, self.labeled = kind, labeled

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        image = self.images[i]
        if self.kind == "pil":
            image = Image.fromarray(image)
        elif self.kind == "tensor":
            image = torch.from_numpy(image).permute(2, 0, 1)
        elif self.kind == "bad":
            image = {"pixels": image}
        return (image, i % 2) if self.labeled else image


def test_load_config_reads_a_file_a_preset_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: {ndf: 16}\ntrain: {epochs: 7}\n")
    cfg = infomax.load_config(path=path, overrides=["train.epochs=3"])
    assert (cfg.model.ndf, cfg.train.epochs) == (16, 3)
    cfg = infomax.load_config(preset="fmnist-tiny", overrides=["optim.lr=0.01"])
    assert cfg.preset == "fmnist-tiny" and cfg.optim.lr == 0.01
    with pytest.raises(ConfigError):
        infomax.load_config(preset="no-such-preset")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["pil", "tensor"])
def test_pretrain_from_python_datasets(tmp_path, kind):
    cfg = infomax.load_config(preset="fmnist-tiny", overrides=[
        *TINY, "data.batch_size=8", f"train.out_dir={tmp_path}", "train.run_name=py"])
    run = infomax.pretrain(cfg, train=Photos(24, kind), eval=Photos(18, kind, labeled=True),
                           progress=False)
    assert run.run_dir == tmp_path / "py" and run.last_checkpoint.is_file()
    assert run.best_checkpoint == tmp_path / "py" / "best.ckpt" and run.best_checkpoint.is_file()
    assert run.summary["eval_data"] == "python:Photos-eval"
    assert set(run.summary["online"]) == {"val/linear_acc", "val/mlp_acc"}
    saved = infomax.load_config(path=run.run_dir / "config.yaml")
    assert (saved.data.name, saved.data.eval) == ("python:Photos", "python:Photos-eval")
    assert saved.data.image_size is None  # 32 px images: the run's size is 32
    ckpt = torch.load(run.last_checkpoint, weights_only=True)
    assert (ckpt["hyper_parameters"]["image_size"], ckpt["hyper_parameters"]["in_channels"],
            ckpt["hyper_parameters"]["num_classes"]) == (32, 3, 2)


def test_a_dataset_that_yields_something_else_is_refused_in_one_line(tmp_path):
    cfg = infomax.load_config(preset="fmnist-tiny", overrides=[f"train.out_dir={tmp_path}"])
    with pytest.raises(ConfigError) as err:
        infomax.pretrain(cfg, train=Photos(4, "bad"), progress=False)
    assert one_line(err.value) == ("train (Photos) item 0 is a dict; yield PIL images, uint8 "
                                   "image tensors (C, H, W) or (image, label) pairs")
    with pytest.raises(ConfigError) as err:
        infomax.pretrain(cfg, train=Photos(4), eval=Photos(4), progress=False)
    assert "has no label; the eval Dataset must yield (image, label) pairs" in one_line(err.value)
    assert not (tmp_path / "fmnist-tiny").exists()


def _readme_python_example() -> str:
    text = (Path(__file__).parents[1] / "README.md").read_text()
    match = re.search(r"<!-- python-api-example -->\s*```python\n(.*?)```", text, re.S)
    assert match, "README.md lost its Python API example"
    return match.group(1)


@pytest.mark.slow
def test_the_readme_python_example_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}
    exec(compile(_readme_python_example(), "README.md", "exec"), namespace)
    run = namespace["run"]
    assert run.last_checkpoint.is_file() and run.best_checkpoint.is_file()


# ----------------------------------------------------------------------------- same images


def write_fmnist_folder(fake_root: Path, folder: Path) -> None:
    """The fake Fashion-MNIST's training images as an unlabeled folder of 28 px grayscale
    PNGs, 100 per subfolder, in the data set's order."""
    from infomax.data.registry import build_dataset as build

    train = build("fashion-mnist", "train", fake_root)
    for i in range(len(train)):
        image, _ = train[i]
        save(folder / f"{i // 100:03d}" / f"{i:05d}.png", image[0].numpy())


FMNIST_AS_FOLDER = ("data.channels=1", "data.mean=[0.2860]", "data.std=[0.3530]",
                    "data.image_size=32", "views.fit=pad", "data.eval=fashion-mnist")


def test_a_gray_folder_padded_gives_the_fmnist_views_exactly(fake_fmnist, tmp_path):
    write_fmnist_folder(fake_fmnist, tmp_path / "fm")
    folder = make_config("fmnist-tiny", [f"data.dir={fake_fmnist}",
                                         f"data.name=imagefolder:{tmp_path / 'fm'}",
                                         *FMNIST_AS_FOLDER])
    labeled = make_config("fmnist-tiny", [f"data.dir={fake_fmnist}"])
    a, b = (PretrainData(c.data, views=c.views, test_views=True) for c in (folder, labeled))
    a.setup(), b.setup()
    assert a.separate_eval and not b.separate_eval
    assert a.info.mean == b.info.mean and a.info.channels == b.info.channels == 1
    items_a, items_b = (SeededItems(d._train, 0, d._probe_items) for d in (a, b))
    for key in ((0, 0), (17, 0), (255, 1)):
        (x1, x2, t), y = items_a[key]
        (u1, u2, s), z = items_b[key]
        assert torch.equal(x1, u1) and torch.equal(x2, u2) and torch.equal(t, s) and y == z


@pytest.mark.slow
def test_an_unlabeled_copy_of_fmnist_with_data_eval_trains_as_the_labeled_run(
        fake_fmnist, tmp_path):
    """Same images, same seed: the folder run (no labels, probes on data.eval) ends with
    the labeled run's weights, bit for bit, online probes included."""
    write_fmnist_folder(fake_fmnist, tmp_path / "fm")
    base = ["pretrain", "--preset", "fmnist-tiny", "--no-progress", "--data-dir",
            str(fake_fmnist), "--out", str(tmp_path), *TINY,
            "probe.online_view=test"]
    assert main([*base, "--name", "labeled"]) == 0
    assert main([*base, "--name", "folder", "--data", f"imagefolder:{tmp_path / 'fm'}",
                 *FMNIST_AS_FOLDER]) == 0
    a, b = (torch.load(tmp_path / n / "last.ckpt", weights_only=True) for n in ("labeled", "folder"))
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k
    sa, sb = (json.loads((tmp_path / n / "summary.json").read_text()) for n in ("labeled", "folder"))
    assert sa["online"] == sb["online"] and sb["eval_data"] == "fashion-mnist"


def test_infomax_data_shows_an_unlabeled_folder(tmp_path, capsys):
    unlabeled_tree(tmp_path / "photos", n=10)
    assert main(["data", f"imagefolder:{tmp_path / 'photos'}"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("unlabeled, 10 images in 6 folders (for labels: train/<class>/ and "
                           "val/<class>/)")
    assert out[1].endswith("unlabeled, 3-channel, 128 px views; pretrain 10 images (no "
                           "train/test splits: probes need a labeled source, data.eval)")
