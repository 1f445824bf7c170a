"""AMDIM's ablations (paper Sec. 4): the full model and single changes to it, each trained
at the same budget from the same seed, then probed the same way (offline linear and kNN).

    infomax ablate --preset fmnist-tiny --steps 250 [--rows ...] [--seeds 0 1] [key=value ...]

Rows (every one a single change to the full model, i.e. to the preset plus the overrides):

    full           the preset as it is
    single-scale   multiscale prediction off: the 1->7 cost only (loss.multiscale=false)
    no-stability   no stability regularization: no score regularizer and no soft clip
    strong-aug     strong augmentation: Fast AutoAugment added to the views, as the paper's
                   "+strong aug" (data.augment=fast-autoaugment; its policy by the image size)
    randaugment    torchvision's RandAugment added to the views instead (data.augment=randaugment;
                   the strong-aug row before Fast AutoAugment existed here)
    mixtures       mixture-based representations, k = 4 (mixture.k=4)
    encoder-half   the encoder half as wide (model.ndf and model.n_rkhs halved)

Each (row, seed) is one pretraining run under ``OUT/<preset>-ablation/<row>-s<seed>``; its
result is kept in ``ablation.json`` as soon as it is known, so a stopped ablation continues
where it was (rows already measured with the same settings are not run again unless
``--again``). A row whose training fails (e.g. diverges) is recorded as failed, with the
reason, and the others still run. The table (``ablation.md``) and the chart
(``ablation.png``) give each row's linear and kNN top-1 and its change from the full model.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from infomax.config import Config, make_config
from infomax.errors import ConfigError, InfomaxError, TrainingInterrupted

# name -> (what it changes, overrides from the full model's config, the paper's direction)
Row = tuple[str, Callable[[Config], list[str]], str]
ROWS: dict[str, Row] = {
    "full": ("the full model (the preset)", lambda c: [], ""),
    "single-scale": ("multiscale off: the 1->7 cost only",
                     lambda c: ["loss.multiscale=false"],
                     "lower: multiscale prediction helps (third in importance)"),
    "no-stability": ("no stability regularization: no score regularizer, no clip",
                     lambda c: ["loss.reg_coef=0", "loss.tclip=0"],
                     "lower: the regularizer matters (second in importance)"),
    "strong-aug": ("strong augmentation: Fast AutoAugment on the views",
                   lambda c: ["data.augment=fast-autoaugment"],
                   "higher: about +1-2 points (augmentation matters most)"),
    "randaugment": ("RandAugment on the views (the strong-aug row's earlier stand-in)",
                    lambda c: ["data.augment=randaugment"],
                    "none given (the paper's strong augmentation is Fast AutoAugment)"),
    "mixtures": ("mixture-based representations, k = 4",
                 lambda c: ["mixture.k=4"],
                 "none given (shown for the segmentation it yields)"),
    "encoder-half": ("the encoder half as wide (ndf and n_rkhs halved)",
                     lambda c: [f"model.ndf={max(1, c.model.ndf // 2)}",
                                f"model.n_rkhs={max(1, c.model.n_rkhs // 2)}"],
                     "lower: the larger encoder is better"),
}
ROW_NAMES = tuple(ROWS)
RESULTS_FILE = "ablation.json"


def budget_overrides(epochs: int | None, steps: int | None) -> list[str]:
    """The training budget every row shares: whole epochs, or a number of steps within
    one epoch."""
    if epochs is not None and steps is not None:
        raise ConfigError("give --epochs or --steps, not both")
    if epochs is not None:
        if epochs < 1:
            raise ConfigError(f"--epochs: {epochs} must be >= 1")
        return [f"train.epochs={epochs}", "train.max_minutes=null"]
    if steps is not None:
        if steps < 1:
            raise ConfigError(f"--steps: {steps} must be >= 1")
        return ["train.epochs=1", f"train.limit_train_batches={steps}", "train.max_minutes=null"]
    return []


def check_rows(rows: Sequence[str] | None) -> list[str]:
    """The rows to run, in the order given and with "full" first (every row when ``rows``
    is empty or None); an unknown row is refused."""
    rows = list(dict.fromkeys(["full", *(rows or ROW_NAMES)]))
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        raise ConfigError(f"--rows: {', '.join(unknown)} unknown; choose from "
                          f"{', '.join(ROW_NAMES)}")
    return rows


@dataclass(frozen=True)
class AblationOptions:
    """What ``infomax ablate`` runs (the defaults are the command's). ``rows`` None: every
    row; ``seeds`` None: seed 0; ``epochs`` and ``steps`` None: the preset's budget. The rows
    and the budget are checked when the options are made."""

    preset: str
    rows: tuple[str, ...] | None = None
    seeds: tuple[int, ...] | None = None
    epochs: int | None = None
    steps: int | None = None
    out: str | Path = "runs"
    overrides: tuple[str, ...] = ()
    again: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("rows", "seeds", "overrides"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(value))
        check_rows(self.rows)
        budget_overrides(self.epochs, self.steps)


@dataclass(frozen=True)
class RowRun:
    """One (row, seed) of an ablation: the row's change to the full model and the config
    it trains with, built once."""

    row: str
    seed: int
    change: tuple[str, ...]
    config: Config

    @property
    def key(self) -> str:
        return f"{self.row}@{self.seed}"

    def settings(self, base: list[str]) -> dict[str, Any]:
        """What decides the run's result, kept with it: a result measured with other
        settings is not reused."""
        return {"base": base, "change": list(self.change), "seed": self.seed}


def row_runs(preset: str, rows: Sequence[str], seeds: Sequence[int], base: list[str],
             out: Path) -> list[RowRun]:
    """Every (row, seed), rows outermost: the config of each is preset <- base overrides
    <- the row's change, the change computed from the full model's config."""
    full = make_config(preset, base)
    if full.method != "amdim":
        raise ConfigError(f"method: {full.method!r}; the ablation is AMDIM's, leave method=amdim")
    runs = []
    for row in rows:
        change = tuple(ROWS[row][1](full))
        for seed in seeds:
            cfg = make_config(preset, [*base, *change, f"train.seed={seed}",
                                       f"train.out_dir={out}", f"train.run_name={row}-s{seed}"])
            runs.append(RowRun(row, seed, change, cfg))
    return runs


def row_config(preset: str, row: str, seed: int, base: list[str], out: Path) -> Config:
    """The config of one (row, seed): preset <- base overrides <- the row's change."""
    (one,) = row_runs(preset, [row], [seed], base, out)
    return one.config


def measure(cfg: Config, progress: bool) -> dict[str, Any]:
    from infomax.engine.probe import run_probe
    from infomax.engine.train import pretrain

    start = time.time()
    run_dir = pretrain(cfg, progress=progress, overwrite=True)
    minutes = (time.time() - start) / 60
    summary = json.loads((run_dir / "summary.json").read_text())
    probe = run_probe(run_dir / "last.ckpt", protocols=["linear", "knn"], progress=progress)
    return {"run_dir": str(run_dir), "steps": summary["steps"],
            "pretrain_minutes": round(minutes, 2), "online": summary["online"],
            "linear_top1": probe["linear"]["top1"], "knn_top1": probe["knn"]["top1"],
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d")}


def summarize(doc: dict[str, Any], keys: set[str] | None = None) -> list[dict[str, Any]]:
    """One line per row (in ROWS order): mean linear/kNN over its seeds, their spread
    (max - min), and the change of the means from the full model's. ``keys`` ("row@seed")
    limits the results used."""
    lines = []
    for row in ROW_NAMES:
        runs = [r for key, r in doc["results"].items()
                if key.split("@")[0] == row and (keys is None or key in keys)]
        if not runs:
            continue
        ok = [r for r in runs if "linear_top1" in r]
        line: dict[str, Any] = {"row": row, "what": ROWS[row][0], "paper": ROWS[row][2],
                                "seeds": len(ok), "failed": [r["failed"] for r in runs
                                                             if "failed" in r]}
        for metric in ("linear_top1", "knn_top1"):
            values = [100 * r[metric] for r in ok]
            line[metric] = sum(values) / len(values) if values else None
            line[metric + "_spread"] = max(values) - min(values) if len(values) > 1 else None
        lines.append(line)
    full = next((line for line in lines if line["row"] == "full"), None)
    for line in lines:
        for metric in ("linear_top1", "knn_top1"):
            ref = full[metric] if full else None
            line[metric + "_change"] = (line[metric] - ref if ref is not None
                                        and line[metric] is not None else None)
    return lines


def _pct(value: float | None, spread: float | None = None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" + (f" ± {spread / 2:.2f}" if spread is not None else "")


def _delta(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


def table(lines: list[dict[str, Any]], doc: dict[str, Any]) -> str:
    seeds = max((line["seeds"] for line in lines), default=0)
    spread = " (mean ± half the range over seeds)" if seeds > 1 else ""
    out = [f"Preset {doc['preset']}, budget: {doc['budget']}; test top-1 (%){spread}.", "",
           "| row | change | linear | Δ linear | kNN | Δ kNN | paper's direction |",
           "|---|---|---|---|---|---|---|"]
    for line in lines:
        if line["failed"] and line["seeds"] == 0:
            out.append(f"| {line['row']} | {line['what']} | failed: {line['failed'][0]} "
                       f"| | | | {line['paper'] or '-'} |")
            continue
        out.append(f"| {line['row']} | {line['what']} "
                   f"| {_pct(line['linear_top1'], line['linear_top1_spread'])} "
                   f"| {_delta(line['linear_top1_change'])} "
                   f"| {_pct(line['knn_top1'], line['knn_top1_spread'])} "
                   f"| {_delta(line['knn_top1_change'])} | {line['paper'] or '-'} |")
    return "\n".join(out) + "\n"


def plot(lines: list[dict[str, Any]], doc: dict[str, Any], path: Path) -> None:
    """The chart: linear and kNN top-1 per row. Drawn on a ``Figure``, never through pyplot,
    so the caller's matplotlib backend is left alone."""
    from matplotlib.figure import Figure

    rows = [line for line in lines if line["linear_top1"] is not None]
    if not rows:
        return
    fig = Figure(figsize=(8, 0.7 * len(rows) + 1.6))
    ax = fig.subplots()
    ys = list(range(len(rows)))[::-1]
    for offset, metric, color, label in ((0.18, "linear_top1", "#3b6ea8", "linear probe"),
                                         (-0.18, "knn_top1", "#e0a030", "kNN (k=200)")):
        values = [line[metric] for line in rows]
        errs = [(line[metric + "_spread"] or 0) / 2 for line in rows]
        ax.barh([y + offset for y in ys], values, 0.36, xerr=errs, color=color, label=label)
        for y, line in zip(ys, rows):
            change = line[metric + "_change"]
            text = f"{line[metric]:.1f}" + ("" if line["row"] == "full" or change is None
                                             else f" ({change:+.1f})")
            ax.text(line[metric] + 0.2, y + offset, text, va="center", fontsize=7)
        full = next((line for line in rows if line["row"] == "full"), None)
        if full:
            ax.axvline(full[metric], color=color, ls="--", lw=1)
    ax.set_yticks(ys, [line["row"] for line in rows])
    low = min(min(line["linear_top1"], line["knn_top1"]) for line in rows)
    high = max(max(line["linear_top1"], line["knn_top1"]) for line in rows)
    ax.set_xlim(max(0.0, low - 5), min(100.0, high + 4))
    ax.set_xlabel("test top-1 (%); dashed: the full model")
    ax.set_title(f"AMDIM ablation, {doc['preset']} ({doc['budget']})", fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def ablate(preset: str, rows: Sequence[str] | None = None, seeds: Sequence[int] | None = None,
           epochs: int | None = None, steps: int | None = None, out: str | Path = "runs",
           overrides: Sequence[str] | None = None, again: bool = False,
           progress: bool = True) -> Path:
    """Run the ablation and write ablation.json, ablation.md and ablation.png under
    ``out/<preset>-ablation``; return that folder."""
    rows = check_rows(rows)
    seeds = list(dict.fromkeys(seeds if seeds else [0]))
    base = [*(overrides or []), *budget_overrides(epochs, steps)]
    folder = Path(out) / f"{preset}-ablation"
    # Every config is built (and so checked) before the first run starts.
    runs = row_runs(preset, rows, seeds, base, folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RESULTS_FILE
    doc = json.loads(path.read_text()) if path.is_file() else {}
    budget = (f"{epochs} epochs" if epochs else f"{steps} steps" if steps
              else f"{runs[0].config.train.epochs} epochs (the preset's)")
    doc.update(preset=preset, budget=budget, results=doc.get("results", {}),
               machine=f"{platform.processor() or platform.machine()}, "
                       f"{torch.get_num_threads()} threads, torch {torch.__version__}")
    todo = []
    for one in runs:
        kept = doc["results"].get(one.key)
        if again or kept is None or kept.get("settings") != one.settings(base):
            todo.append(one)
            doc["results"].pop(one.key, None)
    for i, one in enumerate(todo, 1):
        row, seed = one.row, one.seed
        print(f"[{i}/{len(todo)}] {row} (seed {seed}): {' '.join(one.change) or 'no change'}",
              flush=True)
        try:
            result = measure(one.config, progress)
        except TrainingInterrupted:  # a stop signal stops the ablation, not one row
            raise
        except (InfomaxError, FloatingPointError) as e:
            # One failing row (e.g. divergence without the regularizer) is a result too.
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            print(f"[{i}/{len(todo)}] {row} (seed {seed}) failed: {reason}", file=sys.stderr)
            result = {"failed": reason}
        result["settings"] = one.settings(base)
        doc["results"][one.key] = result
        path.write_text(json.dumps(doc, indent=2))  # after each run: nothing is lost
    path.write_text(json.dumps(doc, indent=2))
    # The table shows the rows and seeds asked for; the JSON keeps every result measured.
    lines = summarize(doc, {f"{row}@{seed}" for row in rows for seed in seeds})
    text = table(lines, doc)
    (folder / "ablation.md").write_text(text)
    plot(lines, doc, folder / "ablation.png")
    print(text, end="")
    print(f"written: {path}, {folder / 'ablation.md'}, {folder / 'ablation.png'}")
    return folder


def run(options: AblationOptions) -> int:
    """The ``infomax ablate`` command, once its options are made; returns the exit code."""
    ablate(options.preset, rows=options.rows, seeds=options.seeds, epochs=options.epochs,
           steps=options.steps, out=options.out, overrides=options.overrides,
           again=options.again, progress=options.progress)
    return 0
