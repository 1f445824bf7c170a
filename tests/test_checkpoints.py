"""Checkpoint files are whole or absent: atomic writes (a write cut off leaves the previous
file under its name), CRC-checked reads (a truncated or damaged file is refused in one
line), and --resume falling back to the run's newest readable checkpoint."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from conftest import isolated_registry, tiny_args
from infomax import load_encoder
from infomax.cli import main
from infomax.files import atomic_save, check_archive, stale_temp_files
from infomax.runs import read_checkpoint
from infomax.errors import InfomaxError, UnreadableCheckpointError

# Two epochs of two steps: last.ckpt (step 4), last.prev.ckpt (step 2), best.ckpt.
SHORT = ["train.epochs=2", "train.limit_train_batches=2", "data.val_subset=32"]
# Tests resume copies of one run in other folders; Lightning says so.
pytestmark = pytest.mark.filterwarnings("ignore:The dirpath has changed")


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def truncate(path: Path, fraction: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * fraction)])


def damage(path: Path, record_suffix: str = "/data/0") -> None:
    """Flip bytes inside a tensor's stored data: the zip structure stays whole."""
    import struct
    import zipfile

    with zipfile.ZipFile(path) as z:
        info = next(i for i in z.infolist() if i.filename.endswith(record_suffix))
    raw = bytearray(path.read_bytes())
    off = info.header_offset
    name_len, extra_len = struct.unpack("<HH", raw[off + 26:off + 30])
    start = off + 30 + name_len + extra_len
    for i in range(start, start + min(16, info.file_size)):
        raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))


@pytest.fixture(scope="module")
def short_run(fake_fmnist_session, tmp_path_factory, module_registry) -> Path:
    out = tmp_path_factory.mktemp("ckpt-runs")
    assert main(tiny_args(fake_fmnist_session, out, *SHORT)) == 0
    return out / "tiny"


@pytest.fixture
def run(short_run, tmp_path, monkeypatch) -> Path:
    copy = tmp_path / "runs" / "tiny"
    shutil.copytree(short_run, copy)
    with isolated_registry(monkeypatch):
        yield copy


# ----------------------------------------------------------------------------- writing


def test_the_run_keeps_the_previous_last_checkpoint(short_run):
    assert load(short_run / "last.ckpt")["global_step"] == 4
    assert load(short_run / "last.prev.ckpt")["global_step"] == 2
    assert not stale_temp_files(short_run)
    assert not list(short_run.glob(".*"))


def test_atomic_save_replaces_the_file_and_keeps_the_previous_one(tmp_path):
    target, prev = tmp_path / "last.ckpt", tmp_path / "last.prev.ckpt"
    atomic_save({"v": torch.tensor(1)}, target, previous=prev)
    assert load(target)["v"] == 1 and not prev.exists()
    atomic_save({"v": torch.tensor(2)}, target, previous=prev)
    assert load(target)["v"] == 2 and load(prev)["v"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt", "last.prev.ckpt"]
    # Readable by others as a plain torch.save file would be (not mkstemp's 0600).
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def _failing_save(after_bytes: int, exc: BaseException):
    def save(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04" + b"\0" * after_bytes)  # a start of a zip archive, then dies
        raise exc
    return save


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_save_that_fails_mid_write_leaves_the_previous_file(tmp_path, monkeypatch, exc):
    target, prev = tmp_path / "last.ckpt", tmp_path / "last.prev.ckpt"
    atomic_save({"v": torch.arange(1000)}, target, previous=prev)
    before = target.read_bytes()
    monkeypatch.setattr(torch, "save", _failing_save(4096, exc))
    with pytest.raises(type(exc)):
        atomic_save({"v": torch.zeros(1000)}, target, previous=prev)
    assert target.read_bytes() == before
    assert not prev.exists()  # the previous file is only kept once the new one is whole
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_a_failed_checkpoint_write_in_a_run_keeps_every_checkpoint(run, fake_fmnist_session,
                                                                   monkeypatch, capfd):
    before = {p.name: p.read_bytes() for p in run.glob("*.ckpt")}
    assert set(before) == {"last.ckpt", "last.prev.ckpt", "best.ckpt"}
    monkeypatch.setattr(torch, "save", _failing_save(1 << 16, OSError(28, "No space left on "
                                                                          "device")))
    capfd.readouterr()
    rc = main(tiny_args(fake_fmnist_session, run.parent, *SHORT, "train.epochs=3", "--resume"))
    err = capfd.readouterr().err
    assert rc == 2 and "Traceback" not in err
    (line,) = [ln for ln in err.splitlines() if ln.startswith("infomax: error:")]
    assert "cannot write checkpoint" in line and "No space left on device" in line
    assert "is intact" in line
    assert {p.name: p.read_bytes() for p in run.glob("*.ckpt")} == before
    assert not stale_temp_files(run) and not list(run.glob(".*"))
    monkeypatch.undo()
    assert read_checkpoint(run / "last.ckpt")["global_step"] == 4


def test_a_temp_file_left_by_a_killed_writer_is_removed_and_never_read(run, fake_fmnist_session,
                                                                       capfd):
    stale = run / f".last.ckpt.12345-{'ab' * 4}.tmp"
    stale.write_bytes((run / "last.ckpt").read_bytes()[:1000])
    assert stale_temp_files(run) == [stale]
    assert main(tiny_args(fake_fmnist_session, run.parent, *SHORT, "train.epochs=3",
                          "--resume")) == 0
    assert "cannot be read" not in capfd.readouterr().err
    assert not stale.exists()
    assert load(run / "last.ckpt")["global_step"] == 6
    assert load(run / "last.prev.ckpt")["global_step"] == 4


# ----------------------------------------------------------------------------- reading


@pytest.mark.parametrize("how", ["half", "one byte short", "garbage", "damaged tensor",
                                 "empty"])
def test_read_checkpoint_refuses_a_truncated_or_corrupt_file(run, how):
    path = run / "last.ckpt"
    if how == "half":
        truncate(path, 0.5)
    elif how == "one byte short":
        path.write_bytes(path.read_bytes()[:-1])
    elif how == "garbage":
        path.write_bytes(os.urandom(path.stat().st_size))
    elif how == "damaged tensor":
        damage(path)
        # torch.load itself takes the damaged bytes for valid numbers.
        assert load(path)["global_step"] == 4
    else:
        path.write_bytes(b"")
    with pytest.raises(UnreadableCheckpointError) as e:
        read_checkpoint(path)
    msg = str(e.value)
    assert str(path) in msg and "cannot be read" in msg and "\n" not in msg
    with pytest.raises(UnreadableCheckpointError):
        read_checkpoint(path, mmap=True)
    with pytest.raises(InfomaxError, match="cannot be read"):
        load_encoder(path)


def test_check_archive_accepts_a_whole_checkpoint(short_run):
    for name in ("last.ckpt", "last.prev.ckpt", "best.ckpt"):
        check_archive(short_run / name)


@pytest.mark.parametrize("command", ["probe", "embed", "report"])
def test_cli_refuses_a_truncated_checkpoint_in_one_line(run, capfd, command, tmp_path):
    path = run / "last.ckpt"
    truncate(path, 0.5)
    argv = {"probe": ["probe", str(path), "--no-progress"],
            "embed": ["embed", str(path), "-o", str(tmp_path / "e.npz"), "--no-progress"],
            "report": ["report", str(run), "--no-progress"]}[command]
    capfd.readouterr()
    rc = main(argv)
    err = capfd.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("infomax: error: checkpoint ")
    assert str(path) in err and "cannot be read" in err and "Traceback" not in err


# ----------------------------------------------------------------------------- resuming


@pytest.mark.parametrize("damaged", ["truncated", "missing"])
def test_resume_falls_back_to_the_newest_readable_checkpoint(run, fake_fmnist_session, capfd,
                                                             damaged):
    last = run / "last.ckpt"
    if damaged == "truncated":
        truncate(last, 0.5)
    else:
        last.unlink()  # e.g. a crash between two renames on a file system without links
    best_step = load(run / "best.ckpt")["global_step"]
    newest = "best.ckpt" if best_step > 2 else "last.prev.ckpt"
    capfd.readouterr()
    rc = main(tiny_args(fake_fmnist_session, run.parent, *SHORT, "train.epochs=3", "--resume"))
    err = capfd.readouterr().err
    assert rc == 0
    (line,) = [ln for ln in err.splitlines() if "resuming from" in ln]
    assert line.startswith("infomax: warning: ") and str(last) in line
    assert f"resuming from {run / newest} (step {max(best_step, 2)})" in line
    assert ("cannot be read" if damaged == "truncated" else "does not exist") in line
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs"] == 3 and summary["steps"] == 6
    assert read_checkpoint(last)["global_step"] == 6
    # The damaged file is kept aside, never as last.prev.ckpt.
    assert read_checkpoint(run / "last.prev.ckpt")["global_step"] == 4
    assert (run / "last.ckpt.unreadable").exists() == (damaged == "truncated")


def test_resume_without_a_readable_checkpoint_is_one_line(run, fake_fmnist_session, capfd):
    for name in ("last.ckpt", "last.prev.ckpt", "best.ckpt"):
        truncate(run / name, 0.5)
    capfd.readouterr()
    rc = main(tiny_args(fake_fmnist_session, run.parent, *SHORT, "train.epochs=3", "--resume"))
    err = capfd.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("infomax: error: cannot resume: ")
    assert str(run / "last.ckpt") in err and "--overwrite" in err
    assert "best.ckpt" in err and "last.prev.ckpt" in err


def test_resume_from_a_named_corrupt_checkpoint_does_not_fall_back(run, capfd):
    path = run / "last.prev.ckpt"
    damage(path)
    capfd.readouterr()
    rc = main(["pretrain", "--no-progress", "--resume", str(path), "train.epochs=3"])
    err = capfd.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and str(path) in err and "Bad CRC-32" in err



# ----------------------------------------------------------------------------- a full disk


class _FillingDisk:
    """A file object that takes ``room`` bytes, then fails as a full disk does."""

    def __init__(self, f, room: int):
        self.f, self.room = f, room

    def write(self, data) -> int:
        if len(data) > self.room:
            raise OSError(28, "No space left on device")
        self.room -= len(data)
        return self.f.write(data)

    def flush(self) -> None:
        self.f.flush()


def _save_on_a_filling_disk(room: int, real_save=torch.save):
    """torch.save as it behaves when the disk fills after ``room`` bytes: torch's own
    archive writer meets the ENOSPC and raises what it raises."""
    def save(obj, f, *args, **kwargs):
        return real_save(obj, _FillingDisk(f, room), *args, **kwargs)
    return save


def test_torch_reports_a_full_disk_as_a_stream_writer_runtime_error(tmp_path):
    # What the tests below make torch raise: a RuntimeError from its stream writer, after
    # the OSError of the file's write, not an OSError.
    with open(tmp_path / "f", "wb") as f, pytest.raises(RuntimeError) as e:
        _save_on_a_filling_disk(4096)({"v": torch.zeros(10_000)}, f)
    assert "inline_container.cc" in str(e.value)
    assert isinstance(e.value.__context__, OSError) and e.value.__context__.errno == 28


@pytest.mark.parametrize("room", [0, 100, 4096, 1 << 16])
def test_a_full_disk_during_torch_save_is_one_line_and_keeps_the_previous_checkpoint(
        tmp_path, monkeypatch, room):
    from infomax.engine.checkpoints import AtomicCheckpointIO

    io = AtomicCheckpointIO(keep_previous={"last.ckpt": "last.prev.ckpt"})
    target = tmp_path / "last.ckpt"
    io.save_checkpoint({"v": torch.arange(1000)}, target)
    before = target.read_bytes()
    monkeypatch.setattr(torch, "save", _save_on_a_filling_disk(room))
    with pytest.raises(InfomaxError) as e:
        io.save_checkpoint({"v": torch.zeros(100_000)}, target)
    msg = str(e.value)
    assert "\n" not in msg and e.value.__cause__ is None and e.value.__suppress_context__
    assert msg.startswith(f"cannot write checkpoint {target} (No space left on device); "
                          f"the previous last.ckpt is intact; free disk space")
    assert target.read_bytes() == before
    assert not stale_temp_files(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_atomic_save_raises_a_full_disk_as_an_oserror_without_chained_tracebacks(tmp_path,
                                                                                  monkeypatch):
    target = tmp_path / "features.pt"
    monkeypatch.setattr(torch, "save", _save_on_a_filling_disk(4096))
    with pytest.raises(OSError) as e:
        atomic_save({"v": torch.zeros(100_000)}, target)
    assert e.value.errno == 28 and e.value.__suppress_context__ and e.value.__cause__ is None
    assert not target.exists() and not list(tmp_path.iterdir())


def test_a_stream_writer_error_without_an_oserror_is_still_a_write_failure(tmp_path,
                                                                           monkeypatch):
    from infomax.engine.checkpoints import AtomicCheckpointIO

    def save(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04" + b"\0" * 4096)
        raise RuntimeError("PytorchStreamWriter failed writing file data/0: file write failed")

    target = tmp_path / "last.ckpt"
    monkeypatch.setattr(torch, "save", save)
    with pytest.raises(InfomaxError) as e:
        AtomicCheckpointIO().save_checkpoint({"v": torch.zeros(10)}, target)
    assert "\n" not in str(e.value) and "file write failed" in str(e.value)
    assert "nothing written" in str(e.value) and not list(tmp_path.iterdir())


def test_an_unrelated_runtime_error_during_torch_save_is_not_taken_for_a_full_disk(tmp_path):
    from infomax.engine.checkpoints import AtomicCheckpointIO

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("a tensor error while pickling")

    target = tmp_path / "last.ckpt"
    atomic_save({"v": torch.arange(10)}, target)
    before = target.read_bytes()
    with pytest.raises(RuntimeError, match="a tensor error while pickling"):
        AtomicCheckpointIO().save_checkpoint({"v": torch.zeros(10_000), "x": Unpicklable()},
                                             target)
    assert target.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_a_run_whose_second_checkpoint_write_fills_the_disk_stops_in_one_line(
        fake_fmnist, tmp_path, monkeypatch, capfd):
    # Epoch 1 writes best.ckpt and last.ckpt; the disk is full from the next write on.
    real_save, calls, kept = torch.save, [], {}
    run = tmp_path / "runs" / "tiny"

    def save(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) <= 2:
            return real_save(obj, f, *args, **kwargs)
        kept.update({p.name: p.read_bytes() for p in run.glob("*.ckpt")})
        return _save_on_a_filling_disk(4096, real_save)(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    capfd.readouterr()
    rc = main(tiny_args(fake_fmnist, run.parent, *SHORT))
    err = capfd.readouterr().err
    monkeypatch.undo()
    assert rc != 0 and len(calls) == 3
    assert err.count("\n") == 1 and err.startswith("infomax: error: cannot write checkpoint "), err
    assert "(No space left on device); the previous " in err and " is intact; " in err
    assert set(kept) == {"best.ckpt", "last.ckpt"}
    assert {p.name: p.read_bytes() for p in run.glob("*.ckpt")} == kept
    assert not stale_temp_files(run) and not list(run.glob(".*"))
    assert read_checkpoint(run / "last.ckpt")["global_step"] == 2
