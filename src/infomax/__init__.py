"""infomax: self-supervised representation learning by maximizing mutual information across views."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__version__ = "0.1.0"


def load_encoder(checkpoint: str | Path, map_location: str = "cpu", *, device=None):
    """The pretrained encoder of a checkpoint written by ``infomax pretrain``, in eval mode,
    with its run's test-time view (``infomax.eval.pretrained.PretrainedEncoder``).

    ``encoder.embed(images)`` gives the global features (N, D) float32, on the encoder's
    device, of PIL images, uint8 image tensors (C, H, W) or batches (B, C, H, W), image
    file paths, or lists mixing them, each preprocessed by ``encoder.transform`` as the
    probes see their images, ``batch_size`` (256) at a time; a float tensor batch is taken
    as preprocessed already. ``encoder(images)`` is the backbone's forward (for AMDIM the
    global, 5x5 and 7x7 embeddings); ``encoder.encoder`` is the backbone itself.
    ``device``: None keeps it where ``map_location`` loads it (the CPU by default); "auto",
    "cpu", "cuda", "cuda:N" or "mps" move it there.
    """
    from infomax.eval.pretrained import load_encoder as _load_encoder

    return _load_encoder(checkpoint, map_location, device=device)


def load_exported(path: str | Path, device=None):
    """The encoder of a file written by ``infomax export --format safetensors``, rebuilt
    with its test-time view: the same ``PretrainedEncoder`` as ``load_encoder`` gives.
    ``device`` as for ``load_encoder``."""
    from infomax.eval.model_export import load_exported as _load_exported

    return _load_exported(path, device=device)


def load_config(preset: str | None = None, path: str | Path | None = None,
                overrides: "list[str] | tuple[str, ...]" = ()):
    """The typed run configuration (``infomax.config.Config``): the library's defaults,
    then the config file ``path`` (YAML, e.g. a run's config.yaml), then ``preset``,
    then ``key=value`` overrides, as ``infomax pretrain --config/--preset`` builds it.
    ConfigError (one line) for an unknown preset, key or bad value."""
    from infomax.config import load_config_file, make_config

    base = load_config_file(path) if path is not None else None
    return make_config(preset, list(overrides), base=base)


@dataclass(frozen=True)
class RunResult:
    """What ``infomax.pretrain`` wrote: the run folder, its checkpoints (``best`` is
    None without labels) and its summary.json as a dict."""

    run_dir: Path
    last_checkpoint: Path
    best_checkpoint: Path | None
    summary: dict


def pretrain(config, train=None, eval=None, *, name: str | None = None,
             resume: str | None = None, progress: bool = True,
             overwrite: bool = False) -> RunResult:
    """Pretrain ``config`` (from ``load_config``), on ``train`` when given: any map-style
    torch Dataset whose items are PIL images, uint8 image tensors (C, H, W) or
    ``(image, label)`` pairs. ``eval``: a labeled Dataset (split, fixed by the seed, into
    5/6 the online probes learn on and 1/6 they are scored on) or a pair ``(train, test)``
    of them; the online probes, best.ckpt and the run's probe use it. A labeled ``train``
    without ``eval`` serves as its own. Without ``train``, ``config.data`` names the data.

    The Datasets are named ``python:<name>`` in the run's config (``name``: the Dataset's
    class name unless given). ``resume``: a checkpoint path or "auto", as for
    ``infomax pretrain --resume``."""
    import dataclasses
    import json

    from infomax.data.python import register
    from infomax.engine.train import pretrain as _pretrain
    from infomax.runs import BEST, LAST, SUMMARY_FILE

    if train is not None or eval is not None:
        key = name or type(train if train is not None else eval).__name__
        names = register(key, train, eval, seed=config.train.seed)
        data = dataclasses.replace(config.data, name=names["name"] or config.data.name,
                                   eval=names["eval"] or config.data.eval)
        config = dataclasses.replace(config, data=data)
    run_dir = _pretrain(config, resume=resume, progress=progress, overwrite=overwrite)
    summary_path = run_dir / SUMMARY_FILE
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    best = run_dir / BEST
    return RunResult(run_dir, run_dir / LAST, best if best.is_file() else None, summary)


__all__ = ["RunResult", "__version__", "load_config", "load_encoder", "load_exported",
           "pretrain"]
