"""Image folders (imagefolder:<path>) with bad data: unreadable files (a truncated JPEG, a
text file named .png) are reported, counted and replaced by the next readable image, or stop
the run in one line with --strict-data; every image mode becomes RGB; images smaller than the
views are upscaled; a wrong layout or an empty class folder is refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from infomax.cli import main
from infomax.config import make_config
from infomax.runs import config_from_run
from infomax.data.module import PretrainData
from infomax.data.registry import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    DatasetInfo,
    build_dataset,
    dataset_info,
    load_rgb,
)
from infomax.data.views import TwoViews, test_view
from infomax.errors import BadImageError, DataNotFoundError

RNG = np.random.default_rng(7)


def rgb(h: int, w: int) -> np.ndarray:
    return RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)


def save(path: Path, array: np.ndarray, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **kwargs)
    return path


def truncated_jpeg(path: Path) -> Path:
    save(path, rgb(40, 40), quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def not_an_image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("a text file with an image's name")
    return path


def one_line(err: BaseException) -> str:
    text = str(err)
    assert "\n" not in text and "Traceback" not in text, text
    return text


@pytest.fixture
def folder(tmp_path) -> Path:
    """train/cat: a.png, b.png, c_truncated.jpg; train/dog: a.png, b_text.png; val/: one
    image per class. Sorted, the pretraining set is cat/a, cat/b, cat/c_truncated, dog/a,
    dog/b_text."""
    base = tmp_path / "imgs"
    for cls in ("cat", "dog"):
        save(base / "train" / cls / "a.png", rgb(40, 48))
        save(base / "val" / cls / "a.png", rgb(40, 48))
    save(base / "train" / "cat" / "b.png", rgb(36, 40))
    truncated_jpeg(base / "train" / "cat" / "c_truncated.jpg")
    not_an_image(base / "train" / "dog" / "b_text.png")
    return base


BAD = ("cat/c_truncated.jpg", "dog/b_text.png")


# ----------------------------------------------------------------------------- decoding


def test_every_image_mode_becomes_rgb(tmp_path):
    gray = RNG.integers(0, 256, (6, 5), dtype=np.uint8)
    color = rgb(6, 5)
    alpha = RNG.integers(0, 256, (6, 5, 1), dtype=np.uint8)
    palette = Image.fromarray(color).quantize(8)
    sixteen = (gray.astype(np.uint16) << 8) | 0x7F  # 16-bit gray: the top byte is `gray`
    cases = {
        "gray.png": (Image.fromarray(gray), np.repeat(gray[:, :, None], 3, axis=2)),
        "gray_alpha.png": (Image.fromarray(np.dstack([gray, alpha[..., 0]]), "LA"),
                           np.repeat(gray[:, :, None], 3, axis=2)),
        "rgba.png": (Image.fromarray(np.dstack([color, alpha])), color),  # alpha dropped
        "palette.png": (palette, np.array(palette.convert("RGB"))),
        "gray16.png": (Image.fromarray(sixteen), np.repeat(gray[:, :, None], 3, axis=2)),
    }
    for name, (image, expected) in cases.items():
        image.save(tmp_path / name)
        got = load_rgb(tmp_path / name)
        assert got.dtype == torch.uint8 and got.shape == (3, 6, 5), name
        assert torch.equal(got, torch.from_numpy(expected).permute(2, 0, 1)), name
    assert Image.open(tmp_path / "palette.png").mode == "P"
    assert Image.open(tmp_path / "gray16.png").mode.startswith("I")
    # CMYK (a JPEG) comes out as 3-channel RGB too
    Image.fromarray(color).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    assert load_rgb(tmp_path / "cmyk.jpg").shape == (3, 6, 5)


def test_images_smaller_than_the_views_are_upscaled():
    # What dataset_info gives every image folder: 128-px views.
    folder_info = DatasetInfo("imagefolder:/x", 128, 3, 2, IMAGENET_MEAN, IMAGENET_STD, False)
    for h, w in ((5, 3), (1, 1), (100, 20)):
        tiny = torch.from_numpy(rgb(h, w)).permute(2, 0, 1).contiguous()
        x1, x2 = TwoViews(folder_info)(tiny)
        assert x1.shape == x2.shape == test_view(folder_info)(tiny).shape == (3, 128, 128)


@pytest.mark.parametrize("bad", BAD)
def test_an_unreadable_file_raises_one_line_naming_it(folder, bad):
    path = folder / "train" / bad
    with pytest.raises(BadImageError) as err:
        load_rgb(path)
    text = one_line(err.value)
    assert str(path) in text and "remove or replace" in text
    strict = build_dataset(f"imagefolder:{folder}", "train", folder)
    index = [p for p, _ in strict.samples].index(str(path))
    with pytest.raises(BadImageError):
        strict[index]


# ----------------------------------------------------------------------------- skipping


def test_an_unreadable_image_is_replaced_by_the_next_readable_one(folder, capfd):
    ds = build_dataset(f"imagefolder:{folder}", "train", folder, skip_unreadable=True)
    paths = [Path(p).relative_to(folder / "train").as_posix() for p, _ in ds.samples]
    assert paths == ["cat/a.png", "cat/b.png", "cat/c_truncated.jpg", "dog/a.png",
                     "dog/b_text.png"]
    capfd.readouterr()
    # cat/c_truncated -> dog/a (label dog); dog/b_text -> wraps around to cat/a (label cat)
    for bad, replacement in ((2, 3), (4, 0)):
        image, label = ds[bad]
        expected_image, expected_label = ds[replacement]
        assert torch.equal(image, expected_image) and label == expected_label
    warnings = capfd.readouterr().err.strip().splitlines()
    assert len(warnings) == 2 and all(w.startswith("infomax: warning: skipped") for w in warnings)
    assert [w for w in warnings if "c_truncated.jpg" in w and "truncated" in w]
    assert sorted(Path(p).name for p in ds.unreadable) == ["b_text.png", "c_truncated.jpg"]
    ds[2], ds[4]
    assert capfd.readouterr().err == ""  # reported once per file


def test_a_folder_without_any_readable_image_is_refused_in_one_line(tmp_path):
    not_an_image(tmp_path / "imgs" / "train" / "a" / "x.png")
    save(tmp_path / "imgs" / "val" / "a" / "0.png", rgb(8, 8))
    ds = build_dataset(f"imagefolder:{tmp_path / 'imgs'}", "train", tmp_path,
                       skip_unreadable=True)
    with pytest.raises(BadImageError) as err:
        ds[0]
    assert "none of the 1 images" in one_line(err.value)


def pretrain_data(folder: Path, workers: int, strict: bool = False) -> PretrainData:
    cfg = make_config("fmnist-tiny", [f"data.name=imagefolder:{folder}", "data.batch_size=5",
                                      f"data.num_workers={workers}", f"data.strict={strict}"])
    return PretrainData(cfg.data, seed=3, pin_memory=False, with_index=True)


def tensors(batch) -> list[torch.Tensor]:
    return [*batch.views, batch.labels, batch.index]


def test_pretraining_batches_skip_unreadable_images_alike_with_workers_and_after_a_resume(
        folder, capfd):
    batches, skipped = {}, {}
    for workers in (0, 2):
        data = pretrain_data(folder, workers)
        data.setup()
        (batch,) = list(data.train_dataloader())  # one batch: all five images
        batches[workers], skipped[workers] = batch, data.skipped_images()
    x1, x2, labels, index = tensors(batches[0])
    assert x1.shape == x2.shape == (5, 3, 128, 128) and sorted(index.tolist()) == list(range(5))
    assert all(torch.equal(a, b) for a, b in zip(tensors(batches[0]), tensors(batches[2])))
    # found in the worker processes too (shared flags)
    assert skipped[0] == skipped[2] == [str(folder / "train" / b) for b in BAD]
    assert capfd.readouterr().err.count("infomax: warning: skipped") == 4  # 2 per run

    # A resumed run knows them from the checkpoint: same batch, nothing tried or said again.
    resumed = pretrain_data(folder, 0)
    resumed.setup()
    resumed.load_state_dict({"epoch": 0, "batches": 0, "unreadable": skipped[0]})
    (batch,) = list(resumed.train_dataloader())
    assert all(torch.equal(a, b) for a, b in zip(tensors(batch), tensors(batches[0])))
    assert capfd.readouterr().err == ""
    assert resumed.skipped_images() == skipped[0]


def test_an_error_raised_in_a_loader_worker_keeps_its_one_line_message():
    class Broken(Dataset):
        def __len__(self) -> int:
            return 1

        def __getitem__(self, i: int):
            raise BadImageError("cannot read image /data/x.jpg (OSError: truncated)")

    try:
        next(iter(DataLoader(Broken(), num_workers=1)))
    except BadImageError as e:
        message = one_line(e)
        # The traceback holds the loader's iterator in a reference cycle: dropped, its
        # worker stops now, not in a later garbage collection that waits 5 s for it.
        e.__traceback__ = None
    assert message == "cannot read image /data/x.jpg (OSError: truncated)"


# ----------------------------------------------------------------------------- layout


def _flat(base: Path) -> str:  # class folders without train/ and val/
    save(base / "cat" / "0.png", rgb(8, 8))
    save(base / "dog" / "0.png", rgb(8, 8))
    return f"imagefolder:{base}"


def _split_itself(base: Path) -> str:  # pointing at train/
    save(base / "train" / "cat" / "0.png", rgb(8, 8))
    save(base / "val" / "cat" / "0.png", rgb(8, 8))
    return f"imagefolder:{base / 'train'}"


def _empty_class(base: Path) -> str:
    _split_itself(base)
    (base / "train" / "dog").mkdir()
    (base / "train" / "dog" / "notes.txt").write_text("no image here")
    return f"imagefolder:{base}"


def _no_class_folders(base: Path) -> str:
    save(base / "train" / "0.png", rgb(8, 8))
    (base / "val").mkdir()
    return f"imagefolder:{base}"


def _a_file(base: Path) -> str:
    base.parent.mkdir(parents=True, exist_ok=True)
    base.write_bytes(b"")
    return f"imagefolder:{base}"


def _half_labeled(base: Path) -> str:  # train/<class>/ but no val/ or test/
    save(base / "train" / "cat" / "0.png", rgb(8, 8))
    return f"imagefolder:{base}"


@pytest.mark.parametrize("make, words", [
    (_split_itself, ["one split of the labeled folder", "point at"]),
    (_empty_class, ["class folders without images in train/ (dog)", "add images", "remove"]),
    (_half_labeled, ["half labeled", "train/ has class folders (cat)", "no val/ or test/",
                     "val/<class>/"]),
    (_a_file, ["is a file, not a folder"]),
], ids=["split-itself", "empty-class", "half-labeled", "a-file"])
def test_a_wrong_layout_is_refused_in_one_line(tmp_path, make, words):
    name = make(tmp_path / "imgs")
    with pytest.raises(DataNotFoundError) as err:
        dataset_info(name)  # the layout; classes without images: when the split is read
        build_dataset(name, "pretrain", tmp_path)
    text = one_line(err.value)
    assert all(w in text for w in words), text


def test_loose_images_are_named_and_an_empty_val_class_is_allowed(tmp_path, capfd):
    _split_itself(tmp_path / "imgs")
    name = f"imagefolder:{tmp_path / 'imgs'}"
    save(tmp_path / "imgs" / "train" / "loose.png", rgb(8, 8))
    save(tmp_path / "imgs" / "train" / "dog" / "0.png", rgb(8, 8))
    (tmp_path / "imgs" / "val" / "dog").mkdir()
    capfd.readouterr()
    assert len(build_dataset(name, "train", tmp_path)) == 2
    (warning,) = capfd.readouterr().err.strip().splitlines()
    assert warning.startswith("infomax: warning: ") and "loose.png" in warning
    assert "not used" in warning
    assert len(build_dataset(name, "test", tmp_path)) == 1
    assert capfd.readouterr().err == ""


# ----------------------------------------------------------------------------- the CLI

def tiny_128(out: Path, *extra: str) -> list[str]:
    """``infomax pretrain`` arguments for one step of a tiny AMDIM on 128-px views."""
    return ["pretrain", "--preset", "fmnist-tiny", "--no-progress", "--out", str(out.parent),
            "--name", out.name, "model.ndf=8", "model.n_rkhs=32", "model.n_depth=1",
            "data.batch_size=5", "train.accelerator=cpu", "train.epochs=1",
            "optim.warmup_steps=1", "train.log_every_n_steps=1", *extra]


@pytest.mark.slow
def test_pretraining_reports_and_counts_skipped_images(folder, tmp_path, capfd):
    capfd.readouterr()
    run = tmp_path / "runs" / "f"
    rc = main(tiny_128(run, f"data.name=imagefolder:{folder}", "data.num_workers=0"))
    out, err = capfd.readouterr()
    assert rc == 0, err
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 1 and summary["skipped_images"] == 2
    assert summary["skipped_image_files"] == [str(folder / "train" / b) for b in BAD]
    lines = [line for line in err.splitlines() if line.startswith("infomax: warning:")]
    assert len(lines) == 3 and "2 unreadable image files were skipped" in lines[-1]
    assert "Traceback" not in err


@pytest.mark.slow
def test_strict_data_stops_at_the_first_unreadable_image_in_one_line(folder, tmp_path, capfd):
    capfd.readouterr()
    run = tmp_path / "runs" / "s"
    argv = tiny_128(run, f"data.name=imagefolder:{folder}", "data.num_workers=2")
    rc = main([argv[0], "--strict-data", *argv[1:]])
    err = capfd.readouterr().err
    assert rc == 2
    (line,) = [line for line in err.splitlines() if line.startswith("infomax: error")]
    assert line.startswith("infomax: error: cannot read image ") and "Traceback" not in err
    assert any(str(folder / "train" / b) in line for b in BAD)
    assert config_from_run(run).data.strict is True and not (run / "summary.json").exists()


# ----------------------------------------------------------------------------- symlinks


def _linked(base: Path, link: str, target: str) -> None:
    (base / link).parent.mkdir(parents=True, exist_ok=True)
    (base / link).symlink_to(target)


def _two_classes(base: Path) -> Path:
    """train/a: 0.png, 1.png, sub/2.png; train/b: 0.png, 1.png; val/: one image per class."""
    for name in ("a/0.png", "a/1.png", "a/sub/2.png", "b/0.png", "b/1.png"):
        save(base / "train" / name, rgb(8, 8))
    for cls in ("a", "b"):
        save(base / "val" / cls / "0.png", rgb(8, 8))
    return base


PLAIN = [("a/0.png", 0), ("a/1.png", 0), ("a/sub/2.png", 0), ("b/0.png", 1), ("b/1.png", 1)]
LOOPS = {  # link under train/ -> target: directories the walk reaches a second time
    "own-class": {"a/loop": "../a"},
    "split": {"a/up": ".."},
    "image-folder": {"b/root": "../../.."},
    "other-class": {"b/a_again": "../a"},
    "all": {"a/loop": "../a", "a/up": "..", "b/root": "../../..", "b/a_again": "../a",
            "a/sub/back": "../../a"},
}


@pytest.mark.parametrize("kind", list(LOOPS))
def test_directories_reached_twice_through_symlinks_are_skipped_with_one_warning(
        tmp_path, capfd, kind):
    base = _two_classes(tmp_path / "imgs")
    for link, target in LOOPS[kind].items():
        _linked(base / "train", link, target)
    name = f"imagefolder:{base}"
    capfd.readouterr()
    ds = build_dataset(name, "pretrain", tmp_path)
    assert ds.samples == [(str(base / "train" / p), label) for p, label in PLAIN]
    (warning,) = capfd.readouterr().err.splitlines()
    links = sorted(LOOPS[kind], key=lambda p: (p.split("/")[0], p.count("/"), p))
    many = f"{len(links)} directories" if len(links) > 1 else "1 directory"
    assert warning == (f"infomax: warning: image folder {base}: skipped {many} reached twice "
                       f"through symlinks (first: {base / 'train' / links[0]}); each "
                       f"directory's images are used once")
    assert len(build_dataset(name, "test", tmp_path)) == 2
    assert capfd.readouterr().err == ""


def test_a_linked_folder_counts_once_and_a_linked_file_is_an_image(tmp_path, capfd):
    base = _two_classes(tmp_path / "imgs")
    more, cats = tmp_path / "elsewhere" / "more", tmp_path / "elsewhere" / "cats"
    save(more / "x.png", rgb(8, 8))
    save(more / "deeper" / "y.png", rgb(8, 8))
    save(cats / "0.png", rgb(8, 8))
    _linked(base / "train", "b/more", str(more))          # two links to one folder
    _linked(base / "train", "b/more_again", "../../../elsewhere/more")
    _linked(base / "train", "b/z.png", "../a/0.png")       # a symlinked file: an image of b
    _linked(base / "train", "c", str(cats))                # a class folder that is a link,
    _linked(base / "train", "a/cats", str(cats))           # and a link to it from class a
    _linked(base / "val", "c", str(cats))
    capfd.readouterr()
    ds = build_dataset(f"imagefolder:{base}", "pretrain", tmp_path)
    train = base / "train"
    assert ds.samples == [(str(train / p), label) for p, label in PLAIN] + [
        (str(train / "b/z.png"), 1),  # b's own files, then b/more's, then b/more/deeper's
        (str(train / "b/more/x.png"), 1), (str(train / "b/more/deeper/y.png"), 1),
        (str(train / "c/0.png"), 2)]
    (warning,) = capfd.readouterr().err.splitlines()
    assert (f"skipped 2 directories reached twice through symlinks (first: {train / 'a/cats'})"
            in warning)
    # In val/ the linked class folder is reached once: no warning.
    assert [label for _, label in build_dataset(f"imagefolder:{base}", "test", tmp_path).samples
            ] == [0, 1, 2]
    assert capfd.readouterr().err == ""


def test_a_tree_without_symlinks_gives_exactly_make_datasets_samples(tmp_path):
    from torchvision.datasets.folder import IMG_EXTENSIONS, make_dataset

    base = tmp_path / "imgs"
    names = ["a/0.png", "a/x/y/1.png", "a/x-1/2.PNG", "a/x/3.jpeg", "a/X/4.JPG", "a/x.y/5.webp",
             "a/.hidden.png", "B/0.bmp", "b-c/deep/er/0.tif", "b-c/1.Jpg", "b-c/deep/2.pgm"]
    for name in names:
        save(base / "train" / name, rgb(8, 8)) if not name.endswith(".pgm") else (
            save(base / "train" / name, rgb(8, 8)[:, :, 0]))
    (base / "train" / "a" / "notes.txt").write_text("not an image")
    (base / "train" / "a" / "x" / "y" / "z.png.txt").write_text("not an image")
    for cls in ("B", "a"):
        save(base / "val" / cls / "k" / "0.png", rgb(8, 8))
        save(base / "val" / cls / "0.png", rgb(8, 8))
    classes = sorted(["a", "B", "b-c"])
    for split, folder in (("pretrain", "train"), ("train", "train"), ("test", "val")):
        expected = make_dataset(str(base / folder), {c: i for i, c in enumerate(classes)},
                                extensions=IMG_EXTENSIONS, allow_empty=True)
        # less the hidden files, which infomax leaves out
        expected = [(p, c) for p, c in expected if not Path(p).name.startswith(".")]
        assert build_dataset(f"imagefolder:{base}", split, tmp_path).samples == expected
    assert len(build_dataset(f"imagefolder:{base}", "train", tmp_path)) == len(names) - 1
