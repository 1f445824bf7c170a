"""ImageNet in its official layout (imagenet:<root>), on a tiny devkit and tiny archives in
the real formats: the devkit's meta.mat and validation ground truth, a train tar of one tar
per class, a flat val tar. torchvision lays them out once (under a lock, into a folder
renamed when complete); infomax decodes the images; every missing or damaged file is
refused in one line."""

from __future__ import annotations

import fcntl
import io
import json
import os
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.datasets.imagenet as tv_imagenet
from PIL import Image

from infomax.cli import main
from infomax.data import registry
from infomax.data.imagenet import ARCHIVES, DEVKIT, LOCK_FILE, META_FILE
from infomax.data.registry import (IMAGENET_MEAN, IMAGENET_STD, build_dataset,
                                   canonical_data_name, class_names, data_name_choices,
                                   dataset_info)
from infomax.errors import ConfigError, DataNotFoundError
from conftest import TINY, isolated_registry

# ILSVRC2012_ID, WNID, words: the devkit numbers its classes in another order than the
# sorted wnids torchvision (and so infomax) labels them by. The last synset is an inner
# node of WordNet (num_children > 0): not a class.
SYNSETS = [(1, "n02000002", "zebra finch, Taeniopygia guttata"),
           (2, "n01000001", "tench, Tinca tinca"),
           (3, "n03000003", "ambulance")]
INNER = (4, "n00000004", "bird")
WNIDS = sorted(w for _, w, _ in SYNSETS)  # label order
NAMES = ("tench", "zebra finch", "ambulance")
TRAIN_PER_CLASS, VAL_PER_CLASS = 4, 2
VAL_IDS = [1, 3, 2, 2, 3, 1]  # the ground truth of val images 1..6 (ILSVRC2012_IDs)
ID_TO_WNID = {i: w for i, w, _ in SYNSETS}
RNG = np.random.default_rng(11)


def jpeg(k: int) -> tuple[bytes, tuple[int, int]]:
    """A small JPEG of a size that varies with ``k``; some grayscale, some CMYK."""
    h, w = 24 + 5 * (k % 4), 20 + 7 * (k % 3)
    array = RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)
    image = Image.fromarray(array)
    image = {1: image.convert("L"), 2: image.convert("CMYK")}.get(k % 5, image)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue(), (h, w)


def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def tar_bytes(members: dict[str, bytes], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:
        for name, data in members.items():
            add(tar, name, data)
    return buffer.getvalue()


def meta_mat() -> bytes:
    """meta.mat as the devkit has it: a struct array 'synsets' with the devkit's fields."""
    import scipy.io

    fields = ["ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "children",
              "wordnet_height", "num_train_images"]
    u16 = np.uint16
    rows = [(u16(i), w, words, f"gloss of {w}", u16(0), np.zeros((0,), u16), u16(0),
             u16(TRAIN_PER_CLASS)) for i, w, words in SYNSETS]
    i, w, words = INNER
    rows.append((u16(i), w, words, "a bird", u16(2), np.array([1, 2], u16), u16(1), u16(0)))
    synsets = np.empty((len(rows),), dtype=[(f, object) for f in fields])
    for k, row in enumerate(rows):
        synsets[k] = row
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"synsets": synsets})
    return buffer.getvalue()


def write_imagenet(root: Path) -> dict:
    """The three archives in ``root``; returns {"train": {wnid: [(name, (h, w))]}, "val":
    [(name, wnid, (h, w))]}."""
    root.mkdir(parents=True, exist_ok=True)
    ground_truth = "".join(f"{i}\n" for i in VAL_IDS).encode()
    (root / DEVKIT).write_bytes(tar_bytes({
        "ILSVRC2012_devkit_t12/data/meta.mat": meta_mat(),
        "ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt": ground_truth,
    }, "w:gz"))
    written: dict = {"train": {}, "val": []}
    inner = {}
    k = 0
    for _, wnid, _ in SYNSETS:
        images = {}
        for n in range(1, TRAIN_PER_CLASS + 1):
            data, size = jpeg(k)
            k += 1
            images[f"{wnid}_{n}.JPEG"] = data
            written["train"].setdefault(wnid, []).append((f"{wnid}_{n}.JPEG", size))
        inner[f"{wnid}.tar"] = tar_bytes(images)
    (root / ARCHIVES["train"]).write_bytes(tar_bytes(inner))
    val = {}
    for n, ident in enumerate(VAL_IDS, start=1):
        data, size = jpeg(k)
        k += 1
        name = f"ILSVRC2012_val_{n:08d}.JPEG"
        val[name] = data
        written["val"].append((name, ID_TO_WNID[ident], size))
    (root / ARCHIVES["val"]).write_bytes(tar_bytes(val))
    return written


@pytest.fixture(autouse=True)
def no_md5(monkeypatch):
    """torchvision checks each archive against the md5 of the real one: the tiny ones
    are checked for being there only."""
    for key, (name, _) in list(tv_imagenet.ARCHIVE_META.items()):
        monkeypatch.setitem(tv_imagenet.ARCHIVE_META, key, (name, None))


@pytest.fixture(scope="module")
def archives(tmp_path_factory) -> tuple[Path, dict]:
    """The archives, written once; tests copy them (``fresh``) or lay out a copy."""
    root = tmp_path_factory.mktemp("archives") / "imagenet"
    return root, write_imagenet(root)


@pytest.fixture
def fresh(archives, tmp_path) -> Path:
    """A root holding only the three archives."""
    import shutil

    root = tmp_path / "imagenet"
    shutil.copytree(archives[0], root)
    return root


def one_line(err: BaseException) -> str:
    text = str(err)
    assert text and "\n" not in text and "Traceback" not in text, text
    return text


def extracting(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("infomax: imagenet: extracting")]


# ----------------------------------------------------------------------------- constants, splits


def test_info_and_class_names_come_from_the_devkit(fresh, capfd):
    info = dataset_info(f"imagenet:{fresh}")
    assert info.name == f"imagenet:{fresh}"
    assert (info.image_size, info.channels, info.num_classes, info.pad_to_32) == (224, 3, 3, False)
    assert (info.mean, info.std) == (IMAGENET_MEAN, IMAGENET_STD)
    assert class_names(f"imagenet:{fresh}") == NAMES
    err = capfd.readouterr().err
    assert err.count("infomax: imagenet: reading the classes from") == 1  # then meta.bin
    assert (fresh / META_FILE).is_file() and not (fresh / "train").exists()
    assert sorted(p.name for p in fresh.iterdir() if p.name.startswith(".meta-")) == []


def test_each_split_decodes_its_images_with_the_devkits_labels(fresh, archives, capfd):
    written = archives[1]
    name = f"imagenet:{fresh}"
    pretrain, train = build_dataset(name, "pretrain", None), build_dataset(name, "train", None)
    test = build_dataset(name, "test", None)
    assert len(pretrain) == len(train) == 3 * TRAIN_PER_CLASS and len(test) == 6
    expected = [(str(fresh / "train" / w / f), WNIDS.index(w), size)
                for w in WNIDS for f, size in written["train"][w]]
    for dataset in (pretrain, train):
        assert [(p, y) for p, y in dataset.samples] == [(p, y) for p, y, _ in expected]
    val = sorted((str(fresh / "val" / w / f), WNIDS.index(w), size)
                 for f, w, size in written["val"])
    assert [(p, y) for p, y in test.samples] == [(p, y) for p, y, _ in val]
    assert test.targets.tolist() == [0, 0, 1, 1, 2, 2]
    for dataset, rows in ((train, expected), (test, val)):
        for k, (_, label, (h, w)) in enumerate(rows):
            image, y = dataset[k]
            assert image.dtype == torch.uint8 and image.shape == (3, h, w) and y == label
    assert "12 images in 3 classes (train/)" in train.description
    err = capfd.readouterr().err
    root = fresh
    assert extracting(err) == [
        f"infomax: imagenet: extracting {ARCHIVES['train']} into {root / 'train'} (once)",
        f"infomax: imagenet: extracting {ARCHIVES['val']} into {root / 'val'} (once)"]
    # What torchvision makes of them, nothing left over: no class tars, no partial folders.
    assert sorted(p.name for p in (fresh / "train").iterdir()) == WNIDS
    assert not list((fresh / "train").glob("*/*.tar"))
    assert not [p for p in fresh.iterdir() if p.name.endswith(".partial")]
    # torchvision's own class reads the layout alike.
    tv = tv_imagenet.ImageNet(str(fresh), split="val")
    assert tv.samples == test.samples and tv.classes[0][0] == NAMES[0]


def test_a_second_construction_reuses_the_folders_without_the_archives(fresh, capfd,
                                                                       monkeypatch):
    name = f"imagenet:{fresh}"
    first = build_dataset(name, "train", None)
    build_dataset(name, "test", None)
    capfd.readouterr()
    for archive in (DEVKIT, *ARCHIVES.values()):
        (fresh / archive).unlink()  # the folders torchvision makes suffice

    def no_extraction(*args, **kwargs):
        raise AssertionError("extracted again")

    for fn in ("parse_devkit_archive", "parse_train_archive", "parse_val_archive"):
        monkeypatch.setattr(tv_imagenet, fn, no_extraction)
    again = build_dataset(name, "train", None)
    assert again.samples == first.samples and len(build_dataset(name, "test", None)) == 6
    assert dataset_info(name).num_classes == 3 and class_names(name) == NAMES
    assert "infomax: imagenet:" not in capfd.readouterr().err


def test_an_interrupted_extraction_is_started_again(fresh):
    partial = fresh / "val.partial"
    (partial / "n01000001").mkdir(parents=True)
    (partial / "n01000001" / "ILSVRC2012_val_00000001.JPEG").write_bytes(b"half")
    assert len(build_dataset(f"imagenet:{fresh}", "test", None)) == 6
    assert not partial.exists()


def test_a_process_waits_for_another_extracting_then_finds_the_folder(fresh, capfd):
    from infomax.data import imagenet

    name = f"imagenet:{fresh}"
    dataset_info(name)  # meta.bin
    fd = os.open(fresh / LOCK_FILE, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # "another process" extracts
    result = {}
    waiter = threading.Thread(
        target=lambda: result.update(n=len(build_dataset(name, "test", None))))
    waiter.start()
    time.sleep(0.5)
    assert waiter.is_alive() and "n" not in result
    imagenet._extract(fresh, "val", imagenet._meta(fresh)[1])
    capfd.readouterr()
    os.close(fd)
    waiter.join(10)
    assert result == {"n": 6}
    err = capfd.readouterr().err
    assert not extracting(err)  # it found the folder the other one made


def _build_after(barrier, name: str, results) -> None:
    barrier.wait()
    results.put(len(build_dataset(name, "test", None)))


def test_of_two_processes_at_once_one_extracts_and_the_other_waits(fresh, capfd, monkeypatch):
    """As DDP's processes do: both build the split at the same moment."""
    import multiprocessing

    name = f"imagenet:{fresh}"
    dataset_info(name)  # meta.bin
    real = tv_imagenet.parse_val_archive

    def slow(*args, **kwargs):  # long enough for the other process to find the lock held
        time.sleep(0.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(tv_imagenet, "parse_val_archive", slow)
    capfd.readouterr()
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(2), context.Queue()
    workers = [context.Process(target=_build_after, args=(barrier, name, results))
               for _ in range(2)]
    for w in workers:
        w.start()
    counts = [results.get(timeout=60) for _ in workers]
    for w in workers:
        w.join(10)
    assert counts == [6, 6] and [w.exitcode for w in workers] == [0, 0]
    err = capfd.readouterr().err
    assert len(extracting(err)) == 1
    # The other one waited, unless it came after the extraction (a loaded machine).
    assert err.count("infomax: imagenet: waiting for another process extracting into") <= 1


# ----------------------------------------------------------------------------- errors


def test_a_name_without_a_root_and_the_list_of_names():
    with pytest.raises(ConfigError) as e:
        canonical_data_name("imagenet:")
    assert "names no path; write imagenet:<root>" in one_line(e.value)
    assert DEVKIT in str(e.value)
    assert "imagenet:<root>" in data_name_choices()


def _no_devkit(root: Path) -> None:
    (root / DEVKIT).unlink()


def _garbage_devkit(root: Path) -> None:
    (root / DEVKIT).write_bytes(b"not a gzip'd tar at all")


def _no_train(root: Path) -> None:
    (root / ARCHIVES["train"]).unlink()


def _garbage_train(root: Path) -> None:
    (root / ARCHIVES["train"]).write_bytes(b"\0" * 100)


ERRORS = {  # what is wrong -> (split built, damage done, words of the one line)
    "root-missing": ("train", lambda r: r.rename(r.with_name("elsewhere")),
                     ["not found", DEVKIT, ARCHIVES["train"], ARCHIVES["val"]]),
    "root-a-file": ("train", lambda r: (r.rename(r.with_name("x")), r.write_text("")),
                    ["is a file, not a folder"]),
    "devkit-missing": ("train", _no_devkit, [f"has no {DEVKIT}", META_FILE, "image-net.org"]),
    "devkit-corrupt": ("train", _garbage_devkit, [f"{DEVKIT} cannot be read", "download it"]),
    "train-missing": ("pretrain", _no_train,
                      ["has neither train/ nor", f"put {ARCHIVES['train']}"]),
    "val-missing": ("test", lambda r: (r / ARCHIVES["val"]).unlink(),
                    ["has neither val/ nor", f"put {ARCHIVES['val']}"]),
    "train-corrupt": ("train", _garbage_train, [f"{ARCHIVES['train']} cannot be read"]),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_each_missing_or_damaged_file_is_refused_in_one_line(fresh, case):
    split, damage, words = ERRORS[case]
    damage(fresh)
    with pytest.raises(DataNotFoundError) as e:
        build_dataset(f"imagenet:{fresh}", split, None)
    text = one_line(e.value)
    assert text.startswith("imagenet: ") and str(fresh) in text
    for word in words:
        assert word in text, text
    assert not [p for p in fresh.parent.rglob("*.partial")]


def test_an_archive_that_is_not_the_official_one_is_refused_in_one_line(fresh, monkeypatch):
    monkeypatch.undo()  # torchvision's md5 of the real devkit again
    assert tv_imagenet.ARCHIVE_META["devkit"][1] is not None
    with pytest.raises(DataNotFoundError) as e:
        dataset_info(f"imagenet:{fresh}")
    text = one_line(e.value)
    assert f"{fresh / DEVKIT} cannot be read (RuntimeError" in text and "image-net.org" in text
    assert not (fresh / META_FILE).exists()


def test_a_damaged_meta_file_is_named(fresh):
    (fresh / META_FILE).write_bytes(b"junk")
    with pytest.raises(DataNotFoundError) as e:
        dataset_info(f"imagenet:{fresh}")
    text = one_line(e.value)
    assert f"{fresh / META_FILE} cannot be read" in text and "delete it" in text


# ----------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_pretrain_with_online_probes_then_a_linear_probe(fresh, tmp_path, capfd, monkeypatch):
    out = tmp_path / "runs"
    with isolated_registry(monkeypatch):
        capfd.readouterr()
        rc = main(["pretrain", "--preset", "fmnist-tiny", "--no-progress", "--data",
                   f"imagenet:{fresh}", "--out", str(out), "--name", "in", *TINY,
                   "data.image_size=32", "data.batch_size=4"])
        out_text, err = capfd.readouterr()
        assert rc == 0, err
        run = out / "in"
        summary = json.loads((run / "summary.json").read_text())
        assert summary["epochs"] == 1 and summary["steps"] == 3  # 12 images, 4 a batch
        assert set(summary["online"]) == {"val/linear_acc", "val/mlp_acc"}
        assert (run / "best.ckpt").is_file()
        assert len(extracting(err)) == 2 and "Traceback" not in err
        rc = main(["probe", str(run / "last.ckpt"), "--epochs", "1", "--workers", "0",
                   "--no-progress"])
        out_text, err = capfd.readouterr()
        assert rc == 0, err
        res = json.loads((run / "probe-last.json").read_text())
        assert res["data"] == f"imagenet:{fresh}"
        assert res["train_images"] == 12 and res["test_images"] == 6
        assert 0.0 <= res["linear"]["top1"] <= 1.0


def test_a_root_that_cannot_be_written_is_refused_in_one_line(fresh, monkeypatch):
    real_open = os.open

    def read_only(path, *args, **kwargs):
        if str(path).endswith(LOCK_FILE):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(DataNotFoundError) as e:
        dataset_info(f"imagenet:{fresh}")
    assert f"cannot write into {fresh} (PermissionError" in one_line(e.value)


def test_without_file_locks_one_process_still_extracts(fresh, monkeypatch, capfd):
    def no_locks(fd, operation):
        raise OSError(37, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    assert len(build_dataset(f"imagenet:{fresh}", "test", None)) == 6
    err = capfd.readouterr().err
    assert f"infomax: imagenet: cannot lock {fresh / LOCK_FILE} (OSError" in err
    assert len(extracting(err)) == 1


# ----------------------------------------------------------------------------- the preset


def test_the_preset_builds_a_resnet50_for_224_px_views():
    from infomax.config import make_config
    from infomax.data.registry import DatasetInfo
    from infomax.data.views import TwoViews, test_view
    from infomax.methods.base import peak_lr
    from infomax.runs import build_method

    cfg = make_config("imagenet-resnet50")
    assert (cfg.method, cfg.model.encoder, cfg.data.image_size) == ("simclr", "resnet50", 224)
    assert cfg.data.name == "imagenet:imagenet" and cfg.train.epochs == 100
    # SimCLR's recipe: LARS at 0.3 per 256 images, so 1.2 on 8 GPUs of 128.
    assert (cfg.recipe, cfg.optim.name, cfg.optim.lr, cfg.optim.lr_batch) == (
        "simclr", "lars", 0.3, 256)
    assert peak_lr(cfg, 8) == pytest.approx(1.2) and cfg.views.crop_scale == [0.08, 1.0]
    # Its runs are named after it; another method's are kept apart.
    assert str(cfg.run_dir) == "runs/imagenet-resnet50"
    other = make_config("imagenet-resnet50", ["method=moco"])
    assert other.run_dir.name == "imagenet-resnet50-moco"
    info = DatasetInfo("imagenet:/data/imagenet", 224, 3, 1000, IMAGENET_MEAN, IMAGENET_STD,
                       False)
    model = build_method(cfg, info).eval()
    assert sum(p.numel() for p in model.encoder.parameters()) == 23_508_032  # ResNet-50, no fc
    image = torch.randint(0, 256, (3, 300, 400), dtype=torch.uint8)
    views = TwoViews(info)(image)
    x = torch.stack([views[0], test_view(info)(image)])
    assert x.shape == (2, 3, 224, 224)
    with torch.no_grad():
        features, local = model.encoder.forward_features(x)
        projected = model.projector(features)
    assert features.shape == (2, 2048) and local.shape == (2, 1024, 14, 14)
    assert projected.shape == (2, 128) and torch.isfinite(projected).all()
    assert model.probes is not None  # 1000 classes: the online probes are built


def test_the_preset_refuses_the_amdim_encoder_at_224_px_in_one_line():
    from infomax.config import make_config

    with pytest.raises(ConfigError) as e:
        make_config("imagenet-resnet50", ["model.encoder=amdim"])
    assert one_line(e.value) == (
        "data.image_size: the amdim encoder takes 32, 64 or 128 px images, not 224; set "
        "data.image_size to one of those (or choose another model.encoder)")
