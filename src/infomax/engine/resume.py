"""What a resumed run may change, and the check of a resume against the checkpoint.

A resume continues one run: the network and the data it was trained on stay as they were
(``method``, ``model.*``, the method's own sections, the data set, its batch size, the
``views`` section, the seed, the averaged probes' weights); its schedule, length, precision,
evaluation, logging and workers may change. Changed rates and schedules take effect in
the restored optimizer and scheduler (``SSLMethod.on_load_checkpoint``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infomax.config import Config
from infomax.errors import InfomaxError

# Keys (or whole sections, ending in ".") a resume may change. Every other key is fixed:
# method, model.*, the methods' sections, views.* (the augmentations the run trains on) and
# the data settings not listed here.
CHANGEABLE = ("preset", "recipe", "optim.", "train.", "probe.", "data.num_workers", "data.dir",
              "data.download", "data.strict", "data.val_subset")
# Exceptions to the sections above: these fix the run's data order or its state's shape
# (the optimizer's kind and its parameter groups).
FIXED = ("train.seed", "probe.online_ema", "optim.name", "optim.exclude_bias_norm")


def changeable(key: str) -> bool:
    if key in FIXED:
        return False
    return any(key == c or (c.endswith(".") and key.startswith(c)) for c in CHANGEABLE)


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"optim": {"lr": 1}} -> {"optim.lr": 1}."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _probes_own_group(optim: dict[str, Any]) -> bool:
    # As SSLMethod.configure_optimizers (infomax.methods.base.probes_own_group): the probes
    # get a parameter group of their own.
    return (optim.get("probe_lr") is not None or not optim.get("probe_cooldown", True)
            or bool(optim.get("exclude_bias_norm", False)))


def _with_defaults(saved: dict[str, Any]) -> dict[str, Any]:
    """``saved`` with the optim and views keys it lacks at their defaults: a checkpoint of
    a version before a key existed trained with that key's default (Adam, the step
    schedule, AMDIM's views), so a resume that would give it a recipe's is refused."""
    import dataclasses

    from infomax.config import OptimConfig, ViewsConfig, merge_mappings

    out = dict(saved)
    for section, defaults in (("optim", OptimConfig()), ("views", ViewsConfig())):
        out[section] = merge_mappings(dataclasses.asdict(defaults), saved.get(section) or {})
    return out


def resume_changes(saved: dict[str, Any], cfg: Config, path: str | Path
                   ) -> list[tuple[str, Any, Any]]:
    """The settings ``cfg`` changes from the checkpoint's config ``saved``, as (key, there,
    here); InfomaxError naming the first key that a resume cannot change. Keys one side
    lacks (another method's sections in a config of earlier versions) are not compared."""
    saved = _with_defaults(saved)
    there, here = flatten(saved), flatten(cfg.to_dict())
    changed = [(k, there[k], v) for k, v in here.items() if k in there and there[k] != v]
    fixed = [f"{k}: {old!r} there, {new!r} here" for k, old, new in changed
             if not changeable(k)]
    if fixed:
        raise InfomaxError(
            f"cannot resume from {path}: it was trained with another network, data or "
            f"optimizer "
            f"({'; '.join(fixed)}); resume with the run's config (--config "
            f"{Path(path).parent / 'config.yaml'}), or start a new run (another --name)")
    if _probes_own_group(saved.get("optim", {})) != _probes_own_group(cfg.to_dict()["optim"]):
        raise InfomaxError(
            f"cannot resume from {path} with optim.probe_lr / optim.probe_cooldown changed so "
            f"that the online probes move into or out of a parameter group of their own; "
            f"keep optim.probe_lr null and optim.probe_cooldown true, or set either, as the "
            f"run did")
    return changed


def describe_changes(changes: list[tuple[str, Any, Any]]) -> str:
    return ", ".join(f"{k} {old!r} -> {new!r}" for k, old, new in changes)
