"""Files that are either whole or absent, and a check that a checkpoint file is whole.

Writing: ``atomic_save`` writes to a temporary file in the target's own folder, flushes and
fsyncs it, then renames it over the target (``os.replace``, atomic on POSIX and Windows)
and fsyncs the folder, so that the rename itself survives a crash. A write that is cut
off (an exception, a full disk, Ctrl-C, a killed process) never leaves a partial file
under the real name: the previous file stays. Lightning's own ``TorchCheckpointIO``
serializes into memory and writes through an fsspec transaction into a temporary file in
the *system* temp folder, then ``shutil.move``s it without any fsync; when the run folder
is on another file system (a tmpfs /tmp, a network disk) that move is a copy, and a copy
cut off leaves a truncated file under the real name. ``AtomicCheckpointIO``
(infomax.engine.checkpoints) writes Lightning's checkpoints with ``atomic_save`` instead.
Every failure to write is an OSError (torch's own RuntimeError when its archive writer
fails, e.g. on a full disk, becomes the OSError behind it), without chained tracebacks.

Reading: ``check_archive`` verifies the zip archive torch.save writes, and the CRC-32 of
every record in it. torch.load checks no CRC (a flipped byte in a tensor loads as a valid,
different number), and refuses a truncated file only with a long internal miniz error.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import zipfile
from pathlib import Path
from typing import Any, BinaryIO, Callable

import torch

from infomax.errors import UnreadableCheckpointError

TEMP_SUFFIX = ".tmp"
_TEMP_NAME = re.compile(r"^\..+\.\d+-[0-9a-f]{8}" + re.escape(TEMP_SUFFIX) + "$")
_CHUNK = 1 << 20


def _temp_path(path: Path) -> Path:
    """A fresh hidden name beside ``path``: same folder, hence same file system, so that
    the final rename is atomic; never ``*.ckpt``, so no tool takes it for a checkpoint."""
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}")


def stale_temp_files(folder: str | Path) -> list[Path]:
    """Temporary files that an ``atomic_save`` killed mid-write left in ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _TEMP_NAME.match(p.name) and p.is_file())


def _fsync_dir(folder: Path) -> None:
    # Makes the rename durable. Not possible on Windows (directories cannot be opened).
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _keep_as(path: Path, previous: Path) -> None:
    """Give ``path``'s current file the name ``previous`` too: a hard link, so that
    ``path`` never goes missing; a rename where the file system has no hard links."""
    link = _temp_path(previous)
    try:
        os.link(path, link)
    except OSError:
        os.replace(path, previous)
        return
    os.replace(link, previous)


# What torch's archive writer (caffe2::serialize::PyTorchStreamWriter, inline_container.cc)
# raises when writing its file fails: "[enforce fail at inline_container.cc:672] . unexpected
# pos 704 vs 598" (torch 2.14, after the file object's write raised), "PytorchStreamWriter
# failed writing file data/0: file write failed" (earlier versions), "basic_ios::clear:
# iostream error" (a path written by the C++ writer itself).
_STREAM_WRITER_ERROR = re.compile(
    r"inline_container\.cc|PytorchStreamWriter|PyTorchStreamWriter|file write failed"
    r"|iostream error")
_ENFORCE_PREFIX = re.compile(r"^\[enforce fail at [^\]]*\]\s*\.?\s*")


def _write_failure(exc: BaseException, path: Path) -> OSError | None:
    """The OSError a failed write of ``path`` is reported as: ``exc`` itself if it is one;
    for the RuntimeError of torch's archive writer, the OSError it was raised after (e.g.
    ENOSPC), else one with its message. None for anything else (an interrupt, a pickling
    error, ...): that propagates unchanged."""
    if isinstance(exc, OSError):
        return exc
    if not isinstance(exc, RuntimeError) or not _STREAM_WRITER_ERROR.search(str(exc)):
        return None
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, OSError):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    reason = _ENFORCE_PREFIX.sub("", str(exc).splitlines()[0])
    return OSError(errno.EIO, f"file write failed: {reason}", str(path))


def _atomic_write(path: Path, write: Callable[[BinaryIO], None],
                  previous: Path | None = None) -> None:
    """Every failure to write (a full disk, an I/O error, torch's archive writer failing on
    either) is an OSError, raised without the exceptions it followed; ``path`` is as it was
    and no temporary file is left."""
    tmp = _temp_path(path)
    # 0o666 less the umask, as open() gives (mkstemp would make it private to the user).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if previous is not None and path.exists():
            _keep_as(path, previous)
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        failure = _write_failure(e, path)
        if failure is None:
            raise
        raise failure from None
    _fsync_dir(path.parent)


def atomic_save(obj: Any, path: str | Path, previous: str | Path | None = None) -> None:
    """``torch.save(obj, path)``, whole or not at all (see the module docstring). With
    ``previous``, the file ``path`` held before (if any) is kept under that name."""
    _atomic_write(Path(path), lambda f: torch.save(obj, f),
                  Path(previous) if previous is not None else None)


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """``write(f)`` into a binary file object whose contents become ``path``, whole or not
    at all (for writers that take a file object: numpy's savez, pyarrow's Parquet)."""
    _atomic_write(Path(path), write)


def atomic_write_text(path: str | Path, text: str) -> None:
    """``Path(path).write_text(text)`` (UTF-8), whole or not at all."""
    _atomic_write(Path(path), lambda f: f.write(text.encode()))


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """``Path(path).write_bytes(data)``, whole or not at all."""
    _atomic_write(Path(path), lambda f: f.write(data))


def check_archive(path: str | Path) -> None:
    """UnreadableCheckpointError unless ``path`` is a whole zip archive (torch.save's
    format) in which every record matches its CRC-32. Reads the whole file (about a
    second per GB)."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.CRC == 0 and info.file_size:
                    continue  # written with torch.serialization.set_crc32_options(False)
                with archive.open(info) as record:  # raises on a CRC mismatch at its end
                    while record.read(_CHUNK):
                        pass
    except zipfile.BadZipFile as e:
        reason = (f"truncated, or not a checkpoint: {e}" if "not a zip file" in str(e)
                  else f"corrupt: {e}")
        raise UnreadableCheckpointError(path, reason) from None
    except (EOFError, ValueError, NotImplementedError) as e:  # cut inside a record
        raise UnreadableCheckpointError(path, f"truncated or corrupt: {e}") from None
