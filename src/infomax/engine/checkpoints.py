"""Lightning's checkpoints written whole or not at all (see infomax.files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.fabric.plugins import TorchCheckpointIO

from infomax.errors import InfomaxError
from infomax.files import atomic_save


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's torch.save checkpoints, written by ``atomic_save``. ``keep_previous``
    maps file names to the name under which the file they replace is kept (e.g.
    ``{"last.ckpt": "last.prev.ckpt"}``). A failed write (a full disk, a folder that is
    not writable) is an InfomaxError saying that the previous file is intact."""

    def __init__(self, keep_previous: dict[str, str] | None = None) -> None:
        super().__init__()
        self.keep_previous = dict(keep_previous or {})

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any,
                        storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        path = Path(path)
        previous = self.keep_previous.get(path.name)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Raises OSError for every failed write, torch's own writer errors included.
            atomic_save(checkpoint, path, path.with_name(previous) if previous else None)
        except OSError as e:
            kept = f"the previous {path.name} is intact" if path.exists() else "nothing written"
            raise InfomaxError(f"cannot write checkpoint {path} ({e.strerror or e}); {kept}; "
                               f"free disk space or fix the folder's permissions, then "
                               f"continue with 'infomax pretrain --resume'") from None
