"""The method family on equal terms: every method pretrains the same encoder (fmnist-tiny's
AMDIM encoder unless --encoder says otherwise) on the same Fashion-MNIST data, with the same
two-view augmentation, optimizer (Adam, the preset's lr) and wall-clock budget on this
machine; then the same offline linear probe and kNN on frozen features.

    python benchmarks/family_fmnist.py [--minutes 5] [--methods amdim dim ...] [key=value ...]

Method settings are their papers' defaults, except where Fashion-MNIST's size forces a
change (listed in SCALE and in the JSON). Results accumulate in
benchmarks/results/family_fmnist.json (a method already measured with the same settings is
skipped unless --again); the table is printed and drawn to family_fmnist.png.
"""

from __future__ import annotations

import argparse
import json
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
from infomax.methods import METHODS  # noqa: E402

HERE = Path(__file__).resolve().parent
# Every registered method, in the registry's order (SwAV included).
METHOD_NAMES = tuple(METHODS.names())

# Changes forced by the data: 60,000 training images cannot feed MoCo's 65,536-key queue
# without stale keys of the same image among the negatives, and one-channel images have no
# Lab split for CMC.
SCALE = {
    "moco": ["moco.queue_size=16384"],
    "cmc": ["cmc.split=views"],
}


def measure(method: str, minutes: float, encoder: str | None, out: Path,
            overrides: list[str]) -> dict:
    extra = [*SCALE.get(method, []), *overrides]
    if encoder:
        extra.append(f"model.encoder={encoder}")
    cfg = make_config("fmnist-tiny", [*EARLIER_RECIPE, f"method={method}", "train.epochs=100",
                                      f"train.max_minutes={minutes}", f"train.out_dir={out}",
                                      f"train.run_name=family-{method}", *extra])
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


def plot(results: dict, path: Path, minutes: float, random: dict | None = None) -> None:
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
    ax.set_title(f"Same encoder, data, views and {minutes:g}-minute budget (2 CPU cores)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=5.0, help="pretraining budget per method")
    ap.add_argument("--methods", nargs="+", default=list(METHOD_NAMES), choices=METHOD_NAMES)
    ap.add_argument("--encoder", help="model.encoder for every method (default: amdim)")
    ap.add_argument("--again", action="store_true", help="re-measure methods already in the JSON")
    ap.add_argument("--random-baseline", action="store_true",
                    help="also probe the untrained encoder (the floor every method must beat)")
    ap.add_argument("--out", default=str(HERE / "runs"), help="folder for the runs")
    ap.add_argument("--json", default=str(HERE / "results" / "family_fmnist.json"))
    ap.add_argument("overrides", nargs="*", metavar="key=value", help="for every method")
    args = ap.parse_args()

    path = Path(args.json)
    doc = json.loads(path.read_text()) if path.is_file() else {}
    key = {"minutes": args.minutes, "encoder": args.encoder or "amdim",
           "overrides": args.overrides}
    if doc.get("key") != key:
        doc = {"key": key, "results": {}}
    doc["machine"] = (f"{platform.processor() or platform.machine()}, "
                      f"{torch.get_num_threads()} threads, torch {torch.__version__}")
    for method in args.methods:
        if method in doc["results"] and not args.again:
            continue
        print(f"{method}: pretraining for {args.minutes:g} min, then linear + kNN", flush=True)
        try:
            doc["results"][method] = measure(method, args.minutes, args.encoder,
                                             Path(args.out), args.overrides)
        except Exception as e:  # one failing method must not cost the others' results
            print(f"{method}: failed: {type(e).__name__}: {e}", flush=True)
            continue
        doc["results"][method]["date"] = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2))  # after each method: nothing is lost
    if args.random_baseline and ("random" not in doc or args.again):
        print("untrained encoder: BatchNorm statistics only, then linear + kNN", flush=True)
        doc["random"] = random_baseline(args.encoder, Path(args.out))
        path.write_text(json.dumps(doc, indent=2))
    results = {m: doc["results"][m] for m in METHOD_NAMES if m in doc["results"]}
    print(f"{'method':<10} {'steps':>6} {'linear':>7} {'kNN':>7}  settings")
    for m, r in results.items():
        print(f"{m:<10} {r['steps']:>6} {100 * r['linear_top1']:>6.2f}% "
              f"{100 * r['knn_top1']:>6.2f}%  {' '.join(r['settings']) or '-'}")
    if "random" in doc:
        print(f"{'untrained':<10} {0:>6} {100 * doc['random']['linear_top1']:>6.2f}% "
              f"{100 * doc['random']['knn_top1']:>6.2f}%  optim.lr=0 (BatchNorm statistics only)")
    png = path.with_suffix(".png")
    plot(results, png, args.minutes, doc.get("random"))
    print(f"written: {path}, {png}")


if __name__ == "__main__":
    main()
