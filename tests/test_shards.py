"""WebDataset tar shards (webdataset:<shards>) and ``infomax data shard``: what is written
reads back with the same count, labels and pixels; hand-made shards read as WebDataset
reads them; every DDP process reads its own samples; a run on shards trains with its probes
and resumes exactly after a crash; bad shards are refused in one line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import tiny_args
from infomax.cli import main
from infomax.config import make_config
from infomax.data import shards as shards_module
from infomax.data.module import EpochSampler, PretrainData
from infomax.data.registry import build_dataset, class_names, dataset_info, load_rgb
from infomax.errors import BadImageError, ConfigError, DataNotFoundError
from test_pretrain import assert_same_tensors, load, read_csv
from test_resume import DATA_STATE, killed_run

RNG = np.random.default_rng(11)


def one_line(err: BaseException) -> str:
    text = str(err)
    assert "\n" not in text and "Traceback" not in text, text
    return text


def shard(data_dir: Path, out: Path, *extra: str) -> int:
    return main(["data", "shard", "fashion-mnist", str(out), "--data-dir", str(data_dir),
                 "--no-download", "--no-progress", *extra])


def jpeg(h: int, w: int, **kwargs) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buf, "JPEG", **kwargs)
    return buf.getvalue()


def pillow(data: bytes) -> torch.Tensor:
    with Image.open(io.BytesIO(data)) as im:
        return torch.from_numpy(np.array(im.convert("RGB"))).permute(2, 0, 1)


def tar_shard(path: Path, samples: list[dict]) -> Path:
    """A shard written with webdataset's TarWriter (samples: {"__key__": ..., ext: bytes})."""
    import webdataset as wds

    path.parent.mkdir(parents=True, exist_ok=True)
    with wds.TarWriter(str(path)) as w:
        for s in samples:
            w.write(s)
    return path


@pytest.fixture
def fmnist_shards(fake_fmnist, tmp_path) -> Path:
    out = tmp_path / "fmnist-shards"
    assert shard(fake_fmnist, out, "--shard-size", "100") == 0
    return out


@pytest.fixture
def pattern(tmp_path) -> tuple[str, list[list[bytes]]]:
    """Three unlabeled shards of JPEGs (4, 4 and 2 samples) written by hand."""
    images = [[jpeg(20 + i, 30 - j, quality=85) for j in range(n)]
              for i, n in enumerate((4, 4, 2))]
    for i, shard_images in enumerate(images):
        tar_shard(tmp_path / "hand" / f"part-{i:03d}.tar",
                  [{"__key__": f"s{i}_{j}", "jpg": b} for j, b in enumerate(shard_images)])
    return f"webdataset:{tmp_path}/hand/part-{{000..002}}.tar", images


# ----------------------------------------------------------------------------- round trips


def test_fashion_mnist_shards_read_back_its_images_and_labels(fake_fmnist, fmnist_shards,
                                                             capsys):
    assert shard(fake_fmnist, fmnist_shards.parent / "again") == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(f"wrote {fmnist_shards.parent / 'again'}: pretrain = train, train "
                           f"256 images in 1 shard, test 64 images in 1 shard; 10 classes")
    index = json.loads((fmnist_shards / "index.json").read_text())
    assert index["splits"]["pretrain"] == {"same_as": "train", "samples": 256}
    assert [s["nsamples"] for s in index["splits"]["train"]["shards"]] == [100, 100, 56]
    assert sorted(p.name for p in fmnist_shards.glob("*.tar")) == [
        "test-000000.tar", "train-000000.tar", "train-000001.tar", "train-000002.tar"]
    assert not list(fmnist_shards.glob(".*"))  # no temporary file left
    name = f"webdataset:{fmnist_shards}"
    info = dataset_info(name)
    assert (info.num_classes, info.channels, info.image_size, info.name) == (
        10, 3, 128, name)
    assert class_names(name) == class_names("fashion-mnist")
    for split in ("pretrain", "train", "test"):
        source = build_dataset("fashion-mnist", split, fake_fmnist, download=False)
        read = build_dataset(name, split, fake_fmnist)
        assert len(read) == len(source)
        assert torch.equal(read.targets, source.targets)
        for i in range(len(read)):
            image, label = read[i]
            assert image.dtype == torch.uint8 and image.shape == (3, 28, 28)
            assert torch.equal(image, source.images[i].expand(3, -1, -1)), (split, i)
            assert label == int(source.targets[i])


def _image_folder(base: Path) -> Path:
    """train/{a,b}/ and val/{a,b}/ of JPEG and PNG files of mixed sizes."""
    for split, n in (("train", 3), ("val", 2)):
        for cls in ("a", "b"):
            for i in range(n):
                h, w = 20 + 7 * i, 33 - 5 * i
                array = RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)
                path = base / split / cls / f"{i}.{'jpg' if i % 2 == 0 else 'png'}"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(array).save(path, **({"quality": 90} if i % 2 == 0 else {}))
    return base


@pytest.mark.parametrize("copy", [False, True], ids=["png", "copy-files"])
def test_an_image_folder_reads_back_pixel_for_pixel(tmp_path, copy):
    folder = _image_folder(tmp_path / "imgs")
    out = tmp_path / "out"
    argv = ["data", "shard", f"imagefolder:{folder}", str(out), "--no-progress"]
    assert main([*argv, *(["--copy-files"] if copy else [])]) == 0
    assert dataset_info(f"webdataset:{out}").num_classes == 2
    assert class_names(f"webdataset:{out}") == ("a", "b")
    for split in ("train", "test"):
        source = build_dataset(f"imagefolder:{folder}", split, tmp_path)
        read = build_dataset(f"webdataset:{out}", split, tmp_path)
        assert len(read) == len(source) and torch.equal(read.targets, source.targets)
        for i, (path, label) in enumerate(source.samples):
            image, got = read[i]
            assert torch.equal(image, load_rgb(path)) and got == label, path
            ext = read.exts[i].decode()
            assert ext == (Path(path).suffix[1:] if copy else "png")
            if copy:
                assert read.read_bytes(i) == Path(path).read_bytes()


def test_an_unlabeled_folder_writes_pretrain_only(tmp_path):
    folder = tmp_path / "flat"
    for i in range(3):
        folder.mkdir(exist_ok=True)
        Image.fromarray(RNG.integers(0, 256, (9, 11, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    out = tmp_path / "out"
    assert main(["data", "shard", f"imagefolder:{folder}", str(out), "--no-progress"]) == 0
    index = json.loads((out / "index.json").read_text())
    assert list(index["splits"]) == ["pretrain"] and index["num_classes"] == 0
    read = build_dataset(f"webdataset:{out}", "pretrain", tmp_path)
    assert len(read) == 3 and read[0][1] == -1
    assert dataset_info(f"webdataset:{out}").num_classes == 0
    with pytest.raises(DataNotFoundError) as err:
        build_dataset(f"webdataset:{out}", "test", tmp_path)
    assert "no labels" in one_line(err.value) and "data.eval" in str(err.value)


def test_a_hand_made_pattern_reads_as_webdataset_reads_it_unlabeled(pattern, tmp_path):
    import webdataset as wds

    name, images = pattern
    info = dataset_info(name)
    assert info.num_classes == 0 and info.name == name
    for split in ("pretrain", "train"):
        read = build_dataset(name, split, tmp_path)
        flat = [b for shard_images in images for b in shard_images]
        assert len(read) == len(flat) == 10
        for i, data in enumerate(flat):
            image, label = read[i]
            assert label == -1 and torch.equal(image, pillow(data))
    # the same samples, keys and order as webdataset's own (iterable) reader
    urls = name[len("webdataset:"):]
    theirs = [(s["__key__"], s["jpg"]) for s in wds.WebDataset(urls, shardshuffle=False)]
    assert theirs == [(read.keys[i].decode(), read.read_bytes(i)) for i in range(len(read))]
    # each shard's index is kept beside it, and used by the next process
    assert sorted(p.name for p in (tmp_path / "hand").glob("*.idx.json")) == [
        f"part-{i:03d}.tar.idx.json" for i in range(3)]
    with pytest.raises(DataNotFoundError) as err:
        build_dataset(name, "test", tmp_path)
    text = one_line(err.value)
    assert "no 'test' split" in text and "data.eval=" in text and "infomax data shard" in text


def test_a_single_labeled_tar(tmp_path):
    path = tar_shard(tmp_path / "one.tar", [
        {"__key__": f"k{i}", "png": _png(5, 6), "cls": str(label)}
        for i, label in enumerate((0, 3, 1))])
    name = f"webdataset:{path}"
    assert dataset_info(name).num_classes == 4
    read = build_dataset(name, "train", tmp_path)
    assert [read[i][1] for i in range(3)] == [0, 3, 1]


def test_a_hand_written_index_names_existing_shards_as_splits(tmp_path):
    folder = tmp_path / "mine"
    for i in range(2):
        tar_shard(folder / f"tr-{i}.tar", [{"__key__": f"t{i}{j}", "png": _png(5, 5),
                                           "cls": str((i + j) % 3)} for j in range(3)])
    tar_shard(folder / "val.tar", [{"__key__": "v", "png": _png(5, 5), "cls": "2"}])
    (folder / "index.json").write_text(json.dumps({"splits": {
        "pretrain": {"shards": "tr-{0..1}.tar"}, "train": {"same_as": "pretrain"},
        "test": {"shards": ["val.tar"]}}}))
    name = f"webdataset:{folder}"
    assert dataset_info(name).num_classes == 3 and class_names(name) is None
    assert [len(build_dataset(name, s, tmp_path)) for s in ("pretrain", "train", "test")] == [
        6, 6, 1]


def _png(h: int, w: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def test_two_processes_read_disjoint_samples_covering_the_epoch(fmnist_shards, fake_fmnist):
    read = build_dataset(f"webdataset:{fmnist_shards}", "pretrain", fake_fmnist)
    for epoch in (0, 1):
        halves = []
        for rank in (0, 1):
            sampler = EpochSampler(read, 32, seed=3, num_replicas=2, rank=rank)
            sampler.set_epoch(epoch)
            halves.append({i for i, _ in sampler})
        assert not halves[0] & halves[1]
        assert halves[0] | halves[1] == set(range(len(read)))
        # distinct samples: their keys and bytes, not only their positions
        keys = [{(read.paths[read.shard_of[i]], read.keys[i]) for i in h} for h in halves]
        assert not keys[0] & keys[1] and len(keys[0]) == len(halves[0])


# ----------------------------------------------------------------------------- runs

RUN = ("data.image_size=64", "data.pretrain_subset=96", "data.val_subset=32",
       "train.epochs=2", "train.checkpoint_every_n_steps=1")


@pytest.mark.slow
def test_pretraining_on_shards_with_probes_on_their_test_split(fmnist_shards, fake_fmnist,
                                                               tmp_path):
    argv = tiny_args(fake_fmnist, tmp_path, "--data", f"webdataset:{fmnist_shards}",
                     "data.image_size=64", "data.val_subset=32")
    assert main(argv) == 0
    run = tmp_path / "tiny"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs"] == 1 and summary["steps"] == 256 // 32
    assert any("linear" in k for k in summary["online"]), summary["online"]
    assert (run / "best.ckpt").exists()


@pytest.mark.slow
def test_a_run_on_shards_killed_mid_epoch_resumes_exactly(fmnist_shards, fake_fmnist, tmp_path):
    data = ("--data", f"webdataset:{fmnist_shards}", *RUN)
    straight_out, killed_out = tmp_path / "straight", tmp_path / "killed"
    assert main(tiny_args(fake_fmnist, straight_out, *data)) == 0
    argv = tiny_args(fake_fmnist, killed_out, *data, "data.num_workers=2")
    killed_run(argv, 4, "training_step")  # inside epoch 2: 3 steps per epoch
    crashed = load(killed_out / "tiny" / "last.ckpt")
    assert crashed["global_step"] == 4 and crashed[DATA_STATE]["epoch"] == 1
    assert main([*argv, "--resume"]) == 0
    straight = load(straight_out / "tiny" / "last.ckpt")
    resumed = load(killed_out / "tiny" / "last.ckpt")
    assert resumed["global_step"] == straight["global_step"] == 6
    for key in ("state_dict", "optimizer_states", "lr_schedulers", "rng_states", DATA_STATE):
        assert_same_tensors(straight[key], resumed[key], key)
    assert read_csv(killed_out / "tiny") == read_csv(straight_out / "tiny")


# ----------------------------------------------------------------------------- bad input


def test_missing_shards_of_a_pattern_are_named(pattern, tmp_path):
    name, _ = pattern
    (tmp_path / "hand" / "part-001.tar").unlink()
    wider = name.replace("{000..002}", "{000..005}")
    with pytest.raises(DataNotFoundError) as err:
        dataset_info(wider)
    text = one_line(err.value)
    assert f"4 of its 6 shards are missing (first: {tmp_path}/hand/part-001.tar)" in text
    assert main(["data", "webdataset:/nowhere/x-{0..3}.tar"]) == 2


def test_a_damaged_or_truncated_tar_is_named(tmp_path):
    good = tar_shard(tmp_path / "good.tar", [{"__key__": f"k{i}", "jpg": jpeg(30, 30)}
                                             for i in range(3)])
    data = good.read_bytes()
    (tmp_path / "garbage.tar").write_bytes(b"this is not a tar file at all" * 40)
    (tmp_path / "truncated.tar").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.tar").write_bytes(b"")
    for bad in ("garbage.tar", "truncated.tar", "empty.tar"):
        with pytest.raises(DataNotFoundError) as err:
            build_dataset(f"webdataset:{tmp_path / bad}", "pretrain", tmp_path)
        text = one_line(err.value)
        assert f"webdataset shard {tmp_path / bad} cannot be read as a tar file" in text, bad


def test_a_sample_without_an_image_is_named(tmp_path):
    path = tar_shard(tmp_path / "s.tar", [{"__key__": "a", "jpg": jpeg(8, 8)},
                                          {"__key__": "b", "json": b"{}", "cls": b"1"}])
    with pytest.raises(DataNotFoundError) as err:
        dataset_info(f"webdataset:{path}")
    text = one_line(err.value)
    assert f"shard {path}: sample 'b' has no image entry (it has cls, json)" in text


def test_an_undecodable_image_is_named_or_skipped(tmp_path, capfd):
    path = tar_shard(tmp_path / "s.tar", [{"__key__": "a", "jpg": jpeg(8, 8)},
                                          {"__key__": "b", "jpg": b"not a jpeg"},
                                          {"__key__": "c", "png": _png(6, 6)}])
    name = f"webdataset:{path}"
    strict = build_dataset(name, "pretrain", tmp_path)
    with pytest.raises(BadImageError) as err:
        strict[1]
    text = one_line(err.value)
    assert "image b.jpg (key 'b')" in text and str(path) in text
    # data.strict=false: reported once, replaced by the next readable sample, named
    cfg = make_config("fmnist-tiny", [f"data.name={name}", "data.image_size=64",
                                      "data.num_workers=0"])
    data = PretrainData(cfg.data)
    data.setup()
    data._train[1]  # replaced, not raised
    assert data.skipped_images() == [f"{path}/b.jpg"]
    assert "skipped unreadable image" in capfd.readouterr().err
    skipping = build_dataset(name, "pretrain", tmp_path, skip_unreadable=True)
    assert torch.equal(skipping[1][0], skipping[2][0])


def test_a_folder_without_its_index_or_changed_since_is_refused(fmnist_shards, fake_fmnist):
    name = f"webdataset:{fmnist_shards}"
    shard_file = fmnist_shards / "train-000001.tar"
    shard_file.write_bytes(shard_file.read_bytes()[:-2048])  # its end blocks and a sample
    with pytest.raises(DataNotFoundError) as err:
        build_dataset(name, "train", fake_fmnist)
    text = one_line(err.value)
    assert f"{shard_file} is" in text and "index.json says" in text
    (fmnist_shards / "index.json").unlink()
    with pytest.raises(DataNotFoundError) as err:
        dataset_info(name)
    assert "has no index.json" in one_line(err.value)


def test_an_interrupted_write_never_looks_complete(fake_fmnist, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    real, calls = shards_module._encoded, []

    def failing(dataset, index, copy_files):
        calls.append(index)
        if len(calls) == 150:
            raise KeyboardInterrupt
        return real(dataset, index, copy_files)

    monkeypatch.setattr(shards_module, "_encoded", failing)
    assert shard(fake_fmnist, out, "--shard-size", "100") == 130
    assert sorted(p.name for p in out.iterdir()) == ["train-000000.tar",
                                                     "train-000000.tar.idx.json"]
    with pytest.raises(DataNotFoundError):
        dataset_info(f"webdataset:{out}")
    monkeypatch.setattr(shards_module, "_encoded", real)
    assert shard(fake_fmnist, out) == 2  # shards there already
    assert "--overwrite" in capsys.readouterr().err
    assert shard(fake_fmnist, out, "--overwrite") == 0
    assert sorted(p.name for p in out.glob("*.tar")) == ["test-000000.tar", "train-000000.tar"]


@pytest.mark.parametrize("argv, words", [
    (["data", "shard", "fashion-mnist"], ["needs SOURCE and OUT"]),
    (["data", "fashion-mnist", "somewhere"], ["takes no 'somewhere'", "infomax data shard"]),
    (["data", "fashion-mnist", "--shard-size", "5"], ["takes no '--shard-size'"]),
    (["data", "shard", "fashion-mnist", "x", "--shard-size", "0"], ["--shard-size: 0"]),
    (["data", "webdataset:"], ["names no path", "<shards>"]),
])
def test_command_line_mistakes_are_one_line(argv, words, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and all(w in err for w in words), err


def test_a_relative_pattern_that_exists_here_is_not_taken_under_the_data_root(
        pattern, tmp_path, monkeypatch):
    from infomax.data.source import resolve_name

    monkeypatch.chdir(tmp_path)
    assert resolve_name("webdataset:hand/part-{000..002}.tar", Path("/root")) == \
        "webdataset:hand/part-{000..002}.tar"
    assert resolve_name("webdataset:elsewhere/p-{0..2}.tar", Path("/root")) == \
        "webdataset:/root/elsewhere/p-{0..2}.tar"
    with pytest.raises(ConfigError):
        dataset_info("webdataset: ")
