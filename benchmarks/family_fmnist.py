"""The method family on equal terms: every method pretrains the same encoder (fmnist-tiny's
AMDIM encoder unless --encoder says otherwise) on the same Fashion-MNIST data for the same
budget on this machine; then the same offline linear probe and kNN on frozen features.

    python benchmarks/family_fmnist.py [--minutes 6] [--methods amdim dim ...] [key=value ...]
    python benchmarks/family_fmnist.py --recipes [--minutes 6] [--methods ...]

Without --recipes (the Adam-for-all table): every method trains with AMDIM's two views and
optimizer (Adam, the preset's lr) for --minutes of wall-clock time.

With --recipes: every method trains with its own published recipe (its optimizer, schedule
and views, ``infomax.methods.recipes``; AMDIM's is the preset's, CPC keeps AMDIM's), and
its schedule runs to its end within the budget: the budget is a number of steps, the
steps the method made in --minutes in the Adam-for-all table (the same work; the
optimizer's and the views' cost aside). AMDIM (whose recipe is the preset's: the table's
settings) and CPC (which keeps AMDIM's) keep their rows of that table. A method absent
from it (SwAV) is timed here: steps/s over its steps 10-40 of a short run, divided by this
machine's speed relative to the table's machine (AMDIM's steps in --minutes, run first),
times --minutes. Wall time is capped at 1.25 x --minutes.

Method settings are their papers' defaults, except where Fashion-MNIST's size forces a
change (listed in SCALE and in the JSON). Results accumulate in
benchmarks/results/family_fmnist.json (family_fmnist_recipes.json with --recipes; a method
already measured with the same settings is skipped unless --again); the table is printed
and drawn to the JSON's .png.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from earlier_recipe import EARLIER_RECIPE  # noqa: E402
from infomax.config import make_config  # noqa: E402
from infomax.engine.probe import run_probe  # noqa: E402
from infomax.engine.train import pretrain  # noqa: E402
from infomax.errors import TrainingInterrupted  # noqa: E402
from infomax.methods import METHODS  # noqa: E402

HERE = Path(__file__).resolve().parent
FMNIST_TRAIN = 60_000  # images in Fashion-MNIST's training split
# Every registered method, in the registry's order (SwAV included).
METHOD_NAMES = tuple(METHODS.names())

# Changes forced by the data: 60,000 training images cannot feed MoCo's 65,536-key queue
# without stale keys of the same image among the negatives, and one-channel images have no
# Lab split for CMC.
SCALE = {
    "moco": ["moco.queue_size=16384"],
    "cmc": ["cmc.split=views"],
}


def _common(method: str, encoder: str | None, overrides: list[str]) -> list[str]:
    extra = [*SCALE.get(method, []), *overrides]
    if encoder:
        extra.append(f"model.encoder={encoder}")
    return extra


def _train_and_probe(cfg, extra: list[str], method: str) -> dict:
    start = time.time()
    run_dir = pretrain(cfg, progress=False, overwrite=True)
    seconds = time.time() - start
    summary = json.loads((run_dir / "summary.json").read_text())
    probe = run_probe(run_dir / "last.ckpt", protocols=["linear", "knn"], progress=False)
    return {
        "method": method, "settings": extra, "pretrain_minutes": round(seconds / 60, 2),
        "steps": summary["steps"], "online": summary["online"],
        "linear_top1": probe["linear"]["top1"], "knn_top1": probe["knn"]["top1"],
        "feature_dim": probe["feature_dim"],
    }


def measure(method: str, minutes: float, encoder: str | None, out: Path,
            overrides: list[str]) -> dict:
    """Adam for all: AMDIM's views and optimizer, --minutes of wall time."""
    extra = _common(method, encoder, overrides)
    cfg = make_config("fmnist-tiny", [*EARLIER_RECIPE, f"method={method}", "train.epochs=100",
                                      f"train.max_minutes={minutes}", f"train.out_dir={out}",
                                      f"train.run_name=family-{method}", *extra])
    return _train_and_probe(cfg, extra, method)


def _length(steps: int, per_epoch: int) -> list[str]:
    """train.epochs and train.limit_train_batches for about ``steps`` steps."""
    epochs = max(1, math.ceil(steps / per_epoch))
    return [f"train.epochs={epochs}", f"train.limit_train_batches={math.ceil(steps / epochs)}"]


def time_steps(method: str, encoder: str | None, out: Path, overrides: list[str]) -> float:
    """Steps per second of ``method`` on its recipe: (40 - 10) steps over the difference
    of two runs' training times (so that start-up and the end's validation cancel)."""
    seconds = []
    for steps in (10, 40):
        cfg = make_config("fmnist-tiny", [*EARLIER_RECIPE, f"method={method}",
                                          "train.epochs=1", f"train.limit_train_batches={steps}",
                                          "data.val_subset=256", f"train.out_dir={out}",
                                          f"train.run_name=family-timing-{method}",
                                          *_common(method, encoder, overrides)])
        start = time.time()
        pretrain(cfg, progress=False, overwrite=True)
        seconds.append(time.time() - start)
    return 30 / max(1e-9, seconds[1] - seconds[0])


def measure_recipe(method: str, steps: int, minutes: float, encoder: str | None, out: Path,
                   overrides: list[str], per_epoch: int) -> dict:
    """``method`` on its own recipe for ``steps`` steps (its schedule's whole length)."""
    extra = _common(method, encoder, overrides)
    cfg = make_config("fmnist-tiny", [*EARLIER_RECIPE, f"method={method}",
                                      *_length(steps, per_epoch),
                                      f"train.max_minutes={1.25 * minutes}",
                                      f"train.out_dir={out}",
                                      f"train.run_name=family-recipe-{method}", *extra])
    row = _train_and_probe(cfg, extra, method)
    row["recipe"] = cfg.recipe
    row["optim"] = {k: v for k, v in dataclasses.asdict(cfg.optim).items()
                    if k in ("name", "lr", "lr_batch", "weight_decay", "schedule",
                             "warmup_epochs", "warmup_steps", "schedule_epochs")}
    row["views_changed"] = cfg.views.changed()
    return row


def random_baseline(encoder: str | None, out: Path) -> dict:
    """The untrained encoder: 50 steps at lr 0, so that only the BatchNorm running
    statistics move (to those of the data), then the same probes."""
    extra = [f"model.encoder={encoder}"] if encoder else []
    cfg = make_config("fmnist-tiny", [*EARLIER_RECIPE, "optim.lr=0", "train.epochs=1",
                                      "train.limit_train_batches=50", f"train.out_dir={out}",
                                      "train.run_name=family-random", *extra])
    run_dir = pretrain(cfg, progress=False, overwrite=True)
    probe = run_probe(run_dir / "last.ckpt", protocols=["linear", "knn"], progress=False)
    return {"linear_top1": probe["linear"]["top1"], "knn_top1": probe["knn"]["top1"]}


def plot(results: dict, path: Path, title: str, random: dict | None = None) -> None:
    names = list(results)
    lin = [100 * results[n]["linear_top1"] for n in names]
    knn = [100 * results[n]["knn_top1"] for n in names]
    fig, ax = plt.subplots(figsize=(1.1 * len(names) + 2, 4))
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], lin, 0.4, label="linear probe", color="#3b6ea8")
    ax.bar([x + 0.2 for x in xs], knn, 0.4, label="kNN (k=200)", color="#e0a030")
    for x, a, b in zip(xs, lin, knn):
        ax.text(x - 0.2, a + 0.3, f"{a:.1f}", ha="center", fontsize=7)
        ax.text(x + 0.2, b + 0.3, f"{b:.1f}", ha="center", fontsize=7)
    if random:
        ax.axhline(100 * random["linear_top1"], color="#3b6ea8", ls="--", lw=1,
                   label=f"untrained encoder, linear ({100 * random['linear_top1']:.1f}%)")
        ax.axhline(100 * random["knn_top1"], color="#e0a030", ls=":", lw=1,
                   label=f"untrained encoder, kNN ({100 * random['knn_top1']:.1f}%)")
    ax.set_xticks(list(xs), names)
    low = min(lin + knn)
    ax.set_ylim(max(0, low - 10), 100)
    ax.set_ylabel("Fashion-MNIST test top-1 (%)")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def recipe_budgets(args, doc: dict) -> None:
    """--recipes: every method for the steps it made in the Adam-for-all table (the same
    work: only the optimizer's and the views' cost differ). AMDIM, whose recipe is the
    preset's (the table's settings), and CPC, which keeps AMDIM's, keep their rows of that
    table. AMDIM's --minutes run here first (``speed_check``) gives this machine's speed
    relative to that table's, so the wall time of the rows can be read."""
    earlier_path = HERE / "results" / "family_fmnist.json"
    earlier = json.loads(earlier_path.read_text())
    if earlier["key"]["minutes"] != args.minutes:
        raise SystemExit(f"--recipes --minutes {args.minutes:g}: the Adam-for-all table in "
                         f"{earlier_path} was measured at {earlier['key']['minutes']:g}")
    out = Path(args.out)
    per_epoch = FMNIST_TRAIN // make_config("fmnist-tiny").data.batch_size
    if "speed_check" not in doc or args.again:
        print(f"amdim: {args.minutes:g} min, for this machine's speed", flush=True)
        doc["speed_check"] = measure("amdim", args.minutes, args.encoder, out, args.overrides)
        _save(doc, Path(args.json))
    doc["speed_ratio"] = doc["speed_check"]["steps"] / earlier["results"]["amdim"]["steps"]
    for method in ("amdim", "cpc"):
        if method in earlier["results"]:
            doc["results"][method] = {**earlier["results"][method],
                                      "recipe": "the Adam-for-all table's row (same settings)"}
    for method in args.methods:
        if method in ("amdim", "cpc") or (method in doc["results"] and not args.again):
            continue
        if method in earlier["results"]:
            steps = earlier["results"][method]["steps"]
            how = "its steps in the Adam-for-all table"
        else:
            rate = time_steps(method, args.encoder, out, args.overrides) / doc["speed_ratio"]
            steps = round(rate * 60 * args.minutes)
            how = (f"timed here, {rate * doc['speed_ratio']:.3f} steps/s, / the speed "
                   f"ratio {doc['speed_ratio']:.3f}")
        print(f"{method}: its recipe for {steps} steps ({how}), then linear + kNN", flush=True)
        try:
            row = measure_recipe(method, steps, args.minutes, args.encoder, out,
                                 args.overrides, per_epoch)
        except TrainingInterrupted:  # a stop signal stops the benchmark, not one method
            raise
        except Exception as e:  # one failing method must not cost the others' results
            print(f"{method}: failed: {type(e).__name__}: {e}", flush=True)
            continue
        row["budget_steps"], row["budget_from"] = steps, how
        doc["results"][method] = row
        _save(doc, Path(args.json))


def _save(doc: dict, path: Path) -> None:
    doc["results"] = {m: doc["results"][m] for m in METHOD_NAMES if m in doc["results"]}
    for row in doc["results"].values():
        row.setdefault("date", datetime.now(timezone.utc).strftime("%Y-%m-%d"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2))  # after each method: nothing is lost


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=6.0, help="pretraining budget per method")
    ap.add_argument("--methods", nargs="+", default=list(METHOD_NAMES), choices=METHOD_NAMES)
    ap.add_argument("--recipes", action="store_true",
                    help="each method on its own recipe, its schedule fit to the budget")
    ap.add_argument("--encoder", help="model.encoder for every method (default: amdim)")
    ap.add_argument("--again", action="store_true", help="re-measure methods already in the JSON")
    ap.add_argument("--random-baseline", action="store_true",
                    help="also probe the untrained encoder (the floor every method must beat)")
    ap.add_argument("--out", default=str(HERE / "runs"), help="folder for the runs")
    ap.add_argument("--json", help="results file (default: benchmarks/results/"
                                   "family_fmnist.json, family_fmnist_recipes.json with "
                                   "--recipes)")
    ap.add_argument("overrides", nargs="*", metavar="key=value", help="for every method")
    args = ap.parse_args()
    args.json = args.json or str(HERE / "results" / ("family_fmnist_recipes.json"
                                                      if args.recipes else "family_fmnist.json"))

    path = Path(args.json)
    doc = json.loads(path.read_text()) if path.is_file() else {}
    key = {"minutes": args.minutes, "encoder": args.encoder or "amdim",
           "overrides": args.overrides, **({"recipes": True} if args.recipes else {})}
    if doc.get("key") != key:
        doc = {"key": key, "results": {}}
    doc["machine"] = (f"{cpu_name()}, {torch.get_num_threads()} threads, "
                      f"torch {torch.__version__}")
    if args.recipes:
        recipe_budgets(args, doc)
    for method in [] if args.recipes else args.methods:
        if method in doc["results"] and not args.again:
            continue
        print(f"{method}: pretraining for {args.minutes:g} min, then linear + kNN", flush=True)
        try:
            doc["results"][method] = measure(method, args.minutes, args.encoder,
                                             Path(args.out), args.overrides)
        except TrainingInterrupted:  # a stop signal stops the benchmark, not one method
            raise
        except Exception as e:  # one failing method must not cost the others' results
            print(f"{method}: failed: {type(e).__name__}: {e}", flush=True)
            continue
        _save(doc, path)
    if args.random_baseline and ("random" not in doc or args.again):
        print("untrained encoder: BatchNorm statistics only, then linear + kNN", flush=True)
        doc["random"] = random_baseline(args.encoder, Path(args.out))
        _save(doc, path)
    results = {m: doc["results"][m] for m in METHOD_NAMES if m in doc["results"]}
    print(f"{'method':<10} {'steps':>6} {'linear':>7} {'kNN':>7}  settings")
    for m, r in results.items():
        what = r.get("recipe") or " ".join(r["settings"]) or "-"
        print(f"{m:<10} {r['steps']:>6} {100 * r['linear_top1']:>6.2f}% "
              f"{100 * r['knn_top1']:>6.2f}%  {what}")
    if "random" in doc:
        print(f"{'untrained':<10} {0:>6} {100 * doc['random']['linear_top1']:>6.2f}% "
              f"{100 * doc['random']['knn_top1']:>6.2f}%  optim.lr=0 (BatchNorm statistics only)")
    png = path.with_suffix(".png")
    title = (f"Each method on its own recipe, for its steps of the {args.minutes:g}-minute "
             f"Adam-for-all budget (2 CPU cores)" if args.recipes else
             f"Same encoder, data, views and {args.minutes:g}-minute budget (2 CPU cores)")
    plot(results, png, title, doc.get("random"))
    print(f"written: {path}, {png}")


def cpu_name() -> str:
    """The CPU's model name (lscpu's, from /proc/cpuinfo), else the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    main()
