"""``infomax report``: the pictures of a run and one self-contained HTML page.

``write_report`` reads a run folder written by ``infomax pretrain`` (config.yaml, its
training log, summary.json, probe-*.json, a checkpoint) and writes into ``report/``. The
curves come from csv/metrics.csv, else from the TensorBoard files (``train.logger``
without csv); a run that logged to neither (``train.logger=[wandb]``) gets the pictures
of its features only:

- ``losses.png``: the NCE loss terms, their total and the score regularizer per logged step;
- ``accuracy.png``: the online linear / MLP probes over training (train batches and the
  per-epoch evaluation on the test split), in percent;
- ``embedding.png``: a 2-D map (UMAP when the ``umap`` package imports, else t-SNE) of the
  checkpoint's test-set features, coloured by class;
- ``retrieval.png``: test images and their nearest test images by cosine similarity;
- ``index.html``: one page holding all of it (images as data URIs, no outside resource),
  with the run's config, its probe results and its online metrics as tables.

Matplotlib is used through ``Figure`` objects (the Agg canvas), never through pyplot, so
a report leaves the caller's matplotlib backend alone.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from infomax.errors import InfomaxError

DPI = 110
NCE_TERMS = (("train/l1t5", "NCE 1→5 (global ↔ 5×5 local)"),
             ("train/l1t7", "NCE 1→7 (global ↔ 7×7 local)"),
             ("train/l5t5", "NCE 5→5 (5×5 local ↔ 5×5 local)"))
TOTAL = ("train/loss", "total loss (NCE terms + regularizer)")
REG = ("train/reg", "score regularizer")
PROBES = (("linear", "linear probe", "C0"), ("mlp", "MLP probe", "C1"))
# Logged train/* columns that are not terms of the self-supervised loss.
NOT_TERMS = ("train/loss", "train/probe_loss", "train/reg")
QUERIES = 8
NEIGHBOURS = 8
SAME, DIFFERENT, QUERY = "#1a9641", "#d7191c", "#2c5aa0"

PROTOCOL_LABELS = {"linear": "linear probe", "mlp": "MLP probe", "knn": "weighted kNN",
                   "pixels": "raw-pixel linear baseline", "fractions": "linear, label fraction",
                   "finetune": "fine-tuned"}
# A fine-tuning result carries its ~20 settings; the table shows its scores, and its label
# says the labels and schedule it had (the JSON file keeps the rest).
SCORE_KEYS = ("top1", "top5", "train_top1")


def _finetune_label(res: dict[str, Any]) -> str:
    fraction, labels = res.get("label_fraction"), res.get("labels")
    share = "every label" if fraction in (None, 1, 1.0) else f"{100 * fraction:g}% of the labels"
    parts = [share + (f" ({labels} images)" if labels is not None else "")]
    if res.get("epochs") is not None:
        parts.append(f"{res['epochs']} epochs")
    if res.get("device"):
        parts.append(str(res["device"]))
    return f"fine-tuned, {', '.join(parts)}"
COLUMN_LABELS = {"top1": "top-1", "top5": "top-5", "train_top1": "train top-1", "k": "k",
                 "temperature": "temperature", "draws": "draws"}


# ----------------------------------------------------------------------------- helpers


def _say(progress: bool, message: str) -> None:
    if progress:
        print(f"report: {message}", file=sys.stderr, flush=True)


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=DPI, format="png", facecolor="white")
    return path


def _empty(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=11,
            color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def class_names(data: str, num_classes: int) -> list[str]:
    """Names of the classes of data set ``data``: the known names of the named sets, the
    class folders of an image folder (the registry's ``class_names``), else the class
    indices as text."""
    from infomax.data import registry

    names: Iterable[str] | None
    try:
        names = registry.class_names(data)
    except Exception:  # an unknown name, or the folder moved since the features were made
        names = None
    names = list(names) if names is not None else []
    if len(names) != num_classes:
        names = [str(i) for i in range(num_classes)]
    return names


# ----------------------------------------------------------------------------- training logs


def read_metrics(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Column -> (steps, values) of Lightning's metrics.csv, each sorted by step, without
    the rows where the column is empty or not a finite number."""
    series: dict[str, list[tuple[int, float]]] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            try:
                step = int(float(row.get("step") or ""))
            except ValueError:
                continue
            for key, cell in row.items():
                if key in (None, "step") or not cell:
                    continue
                try:
                    value = float(cell)
                except ValueError:
                    continue
                if math.isfinite(value):
                    series.setdefault(key, []).append((step, value))
    out = {}
    for key, pairs in series.items():
        pairs.sort(key=lambda p: p[0])
        out[key] = (np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs]))
    return out


def _smooth(y: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over ``window`` points (shorter at the ends)."""
    if window <= 1 or len(y) < 3:
        return y
    c = np.concatenate([[0.0], np.cumsum(y)])
    i = np.arange(len(y))
    lo = np.clip(i - window // 2, 0, len(y))
    hi = np.clip(i - window // 2 + window, 0, len(y))
    return (c[hi] - c[lo]) / (hi - lo)


def read_tensorboard(folder: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The scalars of the TensorBoard event files in ``folder`` as ``read_metrics`` gives
    metrics.csv's columns: tag -> (steps, values), sorted by step, without non-finite
    values. Where a step was logged twice (the steps between a resumed run's checkpoint
    and the point where it had stopped), the value logged last is kept."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    out = {}
    for tag in events.Tags().get("scalars", []):
        values: dict[int, float] = {}
        for event in events.Scalars(tag):
            values[int(event.step)] = float(event.value)  # in the order written
        pairs = sorted((s, v) for s, v in values.items() if math.isfinite(v))
        if pairs:
            out[tag] = (np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs]))
    return out


def plot_losses(metrics: dict[str, tuple[np.ndarray, np.ndarray]], path: Path,
                source: str = "metrics.csv") -> Path:
    fig = _figure(12, 4.6)
    gs = fig.add_gridspec(1, 2, width_ratios=[3, 2])
    ax = fig.add_subplot(gs[0])
    drawn = 0
    terms = [(k, label) for k, label in NCE_TERMS if k in metrics]
    amdim = bool(terms)
    if not amdim:  # another method: whatever terms it logged, by their names
        terms = [(k, k.split("/", 1)[1]) for k in sorted(metrics) if k.startswith("train/")
                 and k not in NOT_TERMS and not k.endswith("_acc")]
    for i, (key, label) in enumerate(terms):
        ax.plot(*metrics[key], color=f"C{i % 10}", lw=1.4, label=label)
        drawn += 1
    if TOTAL[0] in metrics:
        ax.plot(*metrics[TOTAL[0]], color="black", lw=2.0,
                label=TOTAL[1] if amdim else "total loss")
        drawn += 1
    ax.set_title("Contrastive (NCE) loss terms and total" if amdim else "Loss terms and total")
    if drawn:
        ax.set_xlabel("training step")
        ax.set_ylabel("loss (nats)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9, loc="best")
    else:
        _empty(ax, f"no loss logged in {source}")
    ax = fig.add_subplot(gs[1])
    ax.set_title("Score regularizer (weighted, part of the total)")
    if REG[0] in metrics:
        ax.plot(*metrics[REG[0]], color="C3", lw=1.4, label=REG[1])
        ax.set_xlabel("training step")
        ax.set_ylabel("regularizer")
        ax.grid(alpha=0.3)
    else:
        _empty(ax, "train/reg not logged")
    return _save(fig, path)


def _accuracy_caption(cfg: Any) -> str:
    """What the accuracy plot shows, with the run's online-probe settings."""
    p = cfg.probe
    views = ("the test-time views of the training images" if p.online_view == "test"
             else "the augmented views")
    text = (f"Online linear and MLP probes (trained alongside the encoder on its detached "
            f"features of {views}): faint lines are single training batches, solid lines "
            f"their moving average; markers are the evaluation on the test split at the end "
            f"of each epoch")
    if p.online_ema > 0:
        text += (f", of a moving average of the probes' weights (decay {p.online_ema:g} per "
                 f"update)")
    return text + "."


def plot_accuracy(metrics: dict[str, tuple[np.ndarray, np.ndarray]], path: Path,
                  source: str = "metrics.csv") -> Path:
    fig = _figure(12, 5)
    ax = fig.add_subplot()
    ax.set_title("Online probes during training (trained on the encoder's detached features)")
    drawn = 0
    lows, highs = [], []
    for name, label, color in PROBES:
        key = f"train/{name}_acc"
        if key in metrics:
            steps, acc = metrics[key]
            acc = 100 * acc
            window = int(min(25, max(1, round(len(acc) / 25))))
            smooth = _smooth(acc, window)
            how = (f"faint: each logged step, solid: moving average of {window}" if window > 1
                   else "each logged step")
            ax.plot(steps, acc, color=color, lw=0.8, alpha=0.25)
            ax.plot(steps, smooth, color=color, lw=1.6,
                    label=f"training batches, {label} ({how})")
            lows.append(smooth.min())
            highs.append(acc.max())
            drawn += 1
    for name, label, color in PROBES:
        key = f"val/{name}_acc"
        if key in metrics:
            steps, acc = metrics[key]
            acc = 100 * acc
            ax.plot(steps, acc, color=color, ls="--", lw=1.2, marker="o", ms=7,
                    markeredgecolor="black", markeredgewidth=0.8, zorder=3,
                    label=f"test split, {label} (end of each epoch; last {acc[-1]:.1f}%)")
            lows.append(acc.min())
            highs.append(acc.max())
            drawn += 1
    if drawn:
        from matplotlib.ticker import PercentFormatter

        ax.set_xlabel("training step")
        ax.set_ylabel("accuracy")
        ax.yaxis.set_major_formatter(PercentFormatter(100, decimals=0))
        lo, hi = min(lows), max(highs)
        pad = max(2.0, 0.08 * (hi - lo))
        # Within 0-100 %, with room for the markers at either end.
        ax.set_ylim(max(-1.5, lo - pad), min(101.5, hi + pad))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9, loc="lower right")
    else:
        _empty(ax, f"no probe accuracy logged in {source}")
    return _save(fig, path)


# ----------------------------------------------------------------------------- features


def _project(x: np.ndarray, seed: int) -> tuple[np.ndarray, str]:
    """2-D coordinates of the rows of ``x`` (unit-normalised: cosine geometry) and the name
    of the method: UMAP when it imports, else t-SNE."""
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    try:
        import umap  # type: ignore[import-not-found]
    except Exception:
        umap = None
    if umap is not None and len(x) > 16:
        reducer = umap.UMAP(n_components=2, n_neighbors=min(15, len(x) - 1), min_dist=0.1,
                            metric="cosine", random_state=seed, n_jobs=1)
        return np.asarray(reducer.fit_transform(x)), "UMAP"
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    if x.shape[1] > 50 and len(x) > 50:
        x = PCA(n_components=50, random_state=seed).fit_transform(x)
    perplexity = float(max(1.0, min(30.0, (len(x) - 1) / 3)))
    tsne = TSNE(n_components=2, init="pca", random_state=seed, perplexity=perplexity)
    return tsne.fit_transform(x.astype(np.float32)), "t-SNE"


def plot_embedding(features: np.ndarray, labels: np.ndarray, names: list[str], path: Path,
                   max_points: int, seed: int, what: str) -> tuple[Path, str, int]:
    """The 2-D map; returns the path, the method and the number of points shown."""
    rng = np.random.default_rng(seed)
    n = len(features)
    keep = np.sort(rng.choice(n, size=min(n, max_points), replace=False))
    xy, method = _project(features[keep], seed)
    y = labels[keep]
    fig = _figure(10.5, 8)
    ax = fig.add_subplot()
    size = 9 if len(keep) > 1000 else 18 if len(keep) > 300 else 30
    classes = [c for c in range(len(names)) if (y == c).any()]
    if len(names) <= 20:
        from matplotlib import colormaps

        cmap = colormaps["tab10" if len(names) <= 10 else "tab20"]
        for c in classes:
            m = y == c
            ax.scatter(xy[m, 0], xy[m, 1], s=size, color=cmap(c), alpha=0.8, linewidths=0,
                       label=names[c])
        ax.legend(title="class", loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=10,
                  markerscale=2.5 if size < 15 else 1.5, frameon=False)
    else:
        sc = ax.scatter(xy[:, 0], xy[:, 1], s=size, c=y, cmap="turbo", alpha=0.8,
                        linewidths=0)
        fig.colorbar(sc, ax=ax, label="class index")
    shown = (f"{len(keep)} of {n} images, random subset, seed {seed}" if len(keep) < n
             else f"all {n} images")
    ax.set_title(f"{method} of the test-set features ({shown})\n{what}")
    ax.set_xlabel(f"{method} 1")
    ax.set_ylabel(f"{method} 2")
    ax.set_xticks([])
    ax.set_yticks([])
    return _save(fig, path), method, len(keep)


def _show(ax: Any, image: Any, frame: str, width: float) -> None:
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[0] == 1:
        ax.imshow(img[0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    else:
        ax.imshow(np.transpose(img, (1, 2, 0)), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_edgecolor(frame)
        spine.set_linewidth(width)


def pick_queries(labels: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``count`` image indices fixed by ``seed``: a random image of each of ``count``
    random classes (so the grid shows different classes), completed with further random
    images when there are fewer classes; sorted by class."""
    rng = np.random.default_rng(seed + 1)
    order = rng.permutation(len(labels))
    picked, seen = [], set()
    for i in order:  # the first image of each class in a random order
        if len(picked) == count:
            break
        if int(labels[i]) not in seen:
            seen.add(int(labels[i]))
            picked.append(int(i))
    for i in order:
        if len(picked) == count:
            break
        if int(i) not in picked:
            picked.append(int(i))
    return np.array(sorted(picked, key=lambda i: (int(labels[i]), i)), dtype=np.int64)


def plot_retrieval(features: np.ndarray, labels: np.ndarray, dataset: Any, names: list[str],
                   path: Path, seed: int, what: str) -> tuple[Path, float]:
    """Queries and their nearest neighbours; returns the path and the share of neighbours
    of the query's class."""
    n = len(features)
    if n < 2:
        raise InfomaxError(f"the test split has {n} image(s); retrieval needs at least 2")
    queries = pick_queries(labels, QUERIES, seed)
    k = min(NEIGHBOURS, n - 1)
    x = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    sims = x[queries] @ x.T
    sims[np.arange(len(queries)), queries] = -np.inf  # never the query itself
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]

    cell = 1.25
    fig = _figure(cell * (k + 1.3), cell * 1.28 * len(queries) + 0.7)
    gs = fig.add_gridspec(len(queries), k + 2, width_ratios=[1, 0.12] + [1] * k)
    same = 0
    for r, q in enumerate(queries):
        ax = fig.add_subplot(gs[r, 0])
        _show(ax, dataset[int(q)][0], QUERY, 3.5)
        ax.set_title(f"query: {names[labels[q]]}", fontsize=8, color=QUERY, fontweight="bold")
        for c, j in enumerate(order[r]):
            ok = labels[j] == labels[q]
            same += int(ok)
            ax = fig.add_subplot(gs[r, c + 2])
            _show(ax, dataset[int(j)][0], SAME if ok else DIFFERENT, 3.0)
            ax.set_title(f"{names[labels[j]]} ({sims[r, j]:.2f})", fontsize=7.5,
                         color="black" if ok else DIFFERENT)
    precision = same / (len(queries) * k)
    fig.suptitle(f"Nearest test images by cosine similarity of the features, {what}\n"
                 f"left: query; frame green = same class as the query, red = another class "
                 f"(similarity in brackets); {100 * precision:.0f}% of neighbours share the "
                 f"query's class", fontsize=10)
    return _save(fig, path), precision


# ----------------------------------------------------------------------------- HTML


def _flatten(d: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(d, dict) and d:
        out = []
        for key, value in d.items():
            out += _flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return out
    return [(prefix, d)]


def _plain(value: Any) -> str:
    if isinstance(value, (list, tuple, dict, bool)) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _pct(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1:
        return f"{100 * value:.2f}%"
    return _plain(value)


def _is_result(d: Any) -> bool:
    return isinstance(d, dict) and any(k in d for k in ("top1", "top5", "mean"))


def _result_cells(res: dict[str, Any]) -> dict[str, str]:
    cells: dict[str, str] = {}
    for key, value in res.items():
        if key == "mean" and "top1" not in res:
            std = res.get("std")
            cells["top1"] = _pct(value) + (f" ± {_pct(std)}" if std is not None else "")
        elif key == "std" and "top1" not in res:
            continue
        elif key == "draws" and isinstance(value, list):
            tops = [d.get("top1") for d in value if isinstance(d, dict)]
            cells[key] = f"{len(value)}" + (
                f" ({', '.join(_pct(t) for t in tops if t is not None)})" if tops else "")
        elif "top" in key or "acc" in key:
            cells[key] = _pct(value)
        else:
            cells[key] = _plain(value)
    return cells


def probe_rows(results: dict[str, dict[str, Any]]) -> tuple[list[str], list[tuple[str, str, dict]]]:
    """(columns, rows (file, protocol, cells)) of the probe result files."""
    rows = []
    for file, res in results.items():
        for key, value in res.items():
            label = PROTOCOL_LABELS.get(key, key)
            if key == "finetune" and _is_result(value):
                cells = _result_cells({k: v for k, v in value.items() if k in SCORE_KEYS})
                rows.append((file, _finetune_label(value), cells))
            elif _is_result(value):
                rows.append((file, label, _result_cells(value)))
            elif isinstance(value, dict) and value and all(_is_result(v) for v in value.values()):
                for sub, v in value.items():
                    rows.append((file, f"{label} {sub}", _result_cells(v)))
    columns: list[str] = []
    for key in ("top1", "top5", "train_top1"):
        if any(key in cells for _, _, cells in rows):
            columns.append(key)
    for _, _, cells in rows:
        columns += [k for k in cells if k not in columns]
    return columns, rows


def _probe_details(res: dict[str, Any]) -> str:
    parts = []
    for key, value in res.items():
        if _is_result(value) or (isinstance(value, dict) and value
                                 and all(_is_result(v) for v in value.values())):
            continue
        for k, v in _flatten(value, key):
            parts.append(f"{k}: {_plain(v)}")
    return "; ".join(parts)


def _table(header: list[str], rows: list[list[str]], cls: str, numeric_from: int = 1) -> str:
    out = [f'<table class="{cls}"><thead><tr>']
    out += [f"<th>{html.escape(h)}</th>" for h in header]
    out.append("</tr></thead><tbody>")
    num = ' class="num"'
    for row in rows:
        out.append("<tr>" + "".join(
            f"<td{num if i >= numeric_from else ''}>{html.escape(c)}</td>"
            for i, c in enumerate(row)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 margin:0;background:#f4f5f7;color:#1d2330}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px;background:#fff}
h1{font-size:1.7em;margin:.2em 0 .3em}
h2{font-size:1.25em;margin:1.6em 0 .5em;border-bottom:2px solid #e3e6eb;padding-bottom:.2em}
p.summary{font-size:1.02em;color:#333;margin:.2em 0 1em}
p.meta{font-size:.85em;color:#555;margin:.4em 0 1.2em;overflow-wrap:anywhere}
figure{margin:0 0 1.8em}
figure img{display:block;max-width:100%;height:auto;border:1px solid #e3e6eb}
figcaption{font-size:.92em;color:#444;margin-top:.4em}
table{border-collapse:collapse;font-size:.9em;margin:.3em 0 .6em}
th,td{border:1px solid #d8dce2;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#eef1f5}
td.num{font-variant-numeric:tabular-nums}
tbody tr:nth-child(even){background:#f8f9fb}
table.config td:first-child{font-family:ui-monospace,Menlo,Consolas,monospace}
table.config td.num{font-family:ui-monospace,Menlo,Consolas,monospace}
"""

SCRIPT = """
window.addEventListener("load", function () {
  var imgs = document.getElementsByTagName("img"), ok = 0;
  for (var i = 0; i < imgs.length; i++) {
    if (imgs[i].complete && imgs[i].naturalWidth > 0) { ok++; }
  }
  document.body.dataset.rendered = "images=" + ok + "/" + imgs.length +
    " tables=" + document.getElementsByTagName("table").length;
});
"""


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def render_html(title: str, summary_line: str, figures: list[tuple[Path, str, str]],
                config: dict[str, Any] | None, probes: dict[str, dict[str, Any]],
                online: dict[str, Any]) -> str:
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{e(title)}</title><style>{STYLE}</style></head><body><main>",
             f"<h1>{e(title)}</h1>", f'<p class="summary">{e(summary_line)}</p>']
    parts.append("<h2>Training</h2>")
    for i, (path, alt, caption) in enumerate(figures):
        if i == 2:
            parts.append("<h2>Representation (test split)</h2>")
        parts.append(f'<figure><img src="{_data_uri(path)}" alt="{e(alt)}">'
                     f"<figcaption>{e(caption)}</figcaption></figure>")
    parts.append("<h2>Evaluation</h2>")
    if probes:
        columns, rows = probe_rows(probes)
        header = ["file", "protocol"] + [COLUMN_LABELS.get(c, c) for c in columns]
        body = [[file, label] + [cells.get(c, "") for c in columns] for file, label, cells in rows]
        parts.append("<h3>Offline probes (probe-*.json)</h3>")
        parts.append(_table(header, body, "probes", numeric_from=2))
        for file, res in probes.items():
            details = _probe_details(res)
            if details:
                parts.append(f'<p class="meta"><b>{e(file)}</b>: {e(details)}</p>')
    else:
        parts.append('<p class="meta">No probe results (probe-*.json) in the run folder; '
                     "run 'infomax probe RUN/last.ckpt' to add them.</p>")
    if online:
        parts.append("<h3>Online probes at the end of training (summary.json)</h3>")
        parts.append(_table(["metric", "value"],
                            [[k, _pct(v) if k.endswith("acc") else _plain(v)]
                             for k, v in online.items()], "online"))
    parts.append("<h2>Configuration (config.yaml)</h2>")
    if config:
        parts.append(_table(["key", "value"], [[k, _plain(v)] for k, v in _flatten(config)],
                            "config"))
    else:
        parts.append('<p class="meta">No config found.</p>')
    parts.append(f"</main><script>{SCRIPT}</script></body></html>")
    return "\n".join(parts)


# ----------------------------------------------------------------------------- the report


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_report(run_dir: str | Path, checkpoint: str | Path | None = None,
                 data_dir: str | None = None, data: str | None = None, out_dir: str | Path | None = None,
                 progress: bool = True, max_points: int = 2000, seed: int = 0,
                 device: str | Any | None = "auto") -> Path:
    """Write the report of run folder ``run_dir`` into ``out_dir`` (default
    ``<run_dir>/report``) and return the path of its index.html. The embedding pictures
    use ``checkpoint`` (default: the run's last.ckpt) on the test split of ``data``
    (default: the run's labeled source, ``data.eval`` or its data set; a run with neither
    gets the losses only), its features extracted on ``device`` ("auto" or None: CUDA when
    there is a GPU, else the CPU)."""
    import yaml

    from infomax.config import config_from_dict
    from infomax.data.source import DataSource
    from infomax.data.views import geometric_test_view
    from infomax.devices import resolve_device
    from infomax.eval.features import checkpoint_features
    from infomax.methods import METHODS
    from infomax.runs import (CONFIG_FILE, LOG_DIRS, METRICS_CSV, SUMMARY_FILE, epochs_done,
                              read_checkpoint)

    start = time.time()
    dev = resolve_device(device)
    run = Path(run_dir)
    if not run.is_dir():
        raise InfomaxError(f"run folder {run} does not exist; pass the folder 'infomax "
                           f"pretrain' wrote (e.g. runs/<name>)")
    metrics_path = run / METRICS_CSV
    events = run / LOG_DIRS["tensorboard"]
    has_events = any(events.glob("events.out.tfevents.*"))
    if not (metrics_path.is_file() or has_events or (run / CONFIG_FILE).is_file()):
        raise InfomaxError(f"{metrics_path} not found: {run} holds no training log and no "
                           f"{CONFIG_FILE}; pass a run folder written by 'infomax pretrain' "
                           f"(train it first)")
    ckpt = Path(checkpoint) if checkpoint is not None else run / "last.ckpt"
    if not ckpt.is_file():
        hint = ("pass an existing .ckpt with --checkpoint" if checkpoint is not None else
                "train the run to the end of an epoch first, or pass --checkpoint")
        raise InfomaxError(f"checkpoint {ckpt} does not exist; {hint}")
    if max_points < 2:
        raise InfomaxError(f"max_points: {max_points} must be >= 2")
    out = Path(out_dir) if out_dir is not None else run / "report"
    out.mkdir(parents=True, exist_ok=True)

    meta = read_checkpoint(ckpt, mmap=True)
    cfg = config_from_dict(meta["hyper_parameters"]["config"])
    config_path = run / CONFIG_FILE
    config = (yaml.safe_load(config_path.read_text()) if config_path.is_file()
              else meta["hyper_parameters"]["config"])
    summary = _read_json(run / SUMMARY_FILE) or {}
    probes = {}
    for p in sorted(run.glob("probe-*.json")):
        res = _read_json(p)
        if isinstance(res, dict):
            probes[p.name] = res

    # The curves: from metrics.csv, else from the TensorBoard files; a run that logged
    # neither (train.logger=[wandb]) has none here.
    log_note = None
    if metrics_path.is_file():
        _say(progress, f"plotting {metrics_path}")
        metrics, source = read_metrics(metrics_path), "metrics.csv"
    elif has_events:
        _say(progress, f"plotting {events}")
        metrics, source = read_tensorboard(events), "the TensorBoard log"
        log_note = f"curves from {LOG_DIRS['tensorboard']}/ (no {METRICS_CSV})"
    else:
        metrics, source = {}, "this run folder"
        log_note = (f"no csv or tensorboard log in the run folder (train.logger="
                    f"[{','.join(cfg.train.logger)}])"
                    + ("; its curves are in its W&B run" if "wandb" in cfg.train.logger
                       else ""))
    losses = plot_losses(metrics, out / "losses.png", source)
    ckpt_epochs, ckpt_step = epochs_done(meta), meta.get("global_step")
    shown_ckpt = ckpt.name if ckpt.resolve().parent == run.resolve() else str(ckpt)
    if data is None and DataSource.resolve_eval(cfg.data, data_dir) is None:
        # An unlabeled source and no data.eval: no probes, no classes to colour by.
        bits = [f"{summary.get('steps', '?')} training steps",
                f"data: {cfg.data.name} (unlabeled; no data.eval, so no online probes, "
                f"class map or retrieval: pretrain with data.eval=<labeled source>, or probe "
                f"with 'infomax probe CKPT --data <labeled source>'; 'infomax report --data' "
                f"draws them)",
                f"checkpoint: {shown_ckpt}", log_note]
        page = render_html(f"infomax report: {run.resolve().name}",
                           "; ".join(b for b in bits if b),
                           [(losses, "loss curves", METHODS[cfg.method].loss_caption)],
                           config, probes, {})
        index = out / "index.html"
        index.write_text(page, encoding="utf-8")
        _say(progress, f"wrote {index} in {time.time() - start:.0f} s")
        return index
    accuracy = plot_accuracy(metrics, out / "accuracy.png", source)

    _say(progress, f"test-set features of {ckpt}")
    fs = checkpoint_features(ckpt, "test", data, data_dir=data_dir, progress=progress,
                             device=dev)
    features = fs.features.float().numpy()
    labels = fs.labels.numpy().astype(np.int64)
    names = class_names(fs.data, fs.info.num_classes)
    what = f"{ckpt.name} (step {ckpt_step})" if ckpt_step is not None else ckpt.name
    _say(progress, f"2-D map of {min(len(features), max_points)} test features")
    embedding, method, shown = plot_embedding(features, labels, names, out / "embedding.png",
                                              max_points, seed, what)
    _say(progress, "nearest-neighbour retrieval")
    images = DataSource.resolve(cfg.data, fs.data, data_dir).build(
        "test", geometric_test_view(fs.info, cfg.views))
    retrieval, precision = plot_retrieval(features, labels, images, names,
                                          out / "retrieval.png", seed, what)

    steps = summary.get("steps")
    if steps is None:
        steps = max((int(s.max()) + 1 for s, _ in metrics.values() if len(s)), default=0)
    epochs = summary.get("epochs")
    if epochs is None and "epoch" in metrics:
        epochs = int(metrics["epoch"][1].max()) + 1
    bits = [f"{steps} training steps", f"{epochs} epochs" if epochs is not None else None,
            f"{summary['seconds']:.0f} s of training" if "seconds" in summary else None,
            f"data: {cfg.data.name}" + (f", probes on {fs.data} (data.eval)"
                                        if fs.data != DataSource.resolve(cfg.data, data_dir=data_dir).name
                                        else ""),
            f"checkpoint: {shown_ckpt}" + (f" (after {ckpt_epochs} epochs, step {ckpt_step})"
                                           if ckpt_step is not None else ""),
            log_note]
    if not summary:
        bits.append("no summary.json (training unfinished?)")
    summary_line = "; ".join(b for b in bits if b)
    subset = (f"; a random subset of the {len(features)}, seed {seed}"
              if shown < len(features) else "")
    figures = [
        (losses, "loss curves", METHODS[cfg.method].loss_caption),
        (accuracy, "online probe accuracy", _accuracy_caption(cfg)),
        (embedding, f"{method} map",
         f"{method} of {shown} test-set features of {what}, coloured by class (features "
         f"normalised to unit length{subset})."),
        (retrieval, "nearest neighbours",
         f"Random test images of different classes (left; fixed by seed {seed}) and their "
         f"{NEIGHBOURS} nearest test images by cosine similarity of the features; green "
         f"frame: same class, red: another class. {100 * precision:.0f}% of the neighbours "
         f"shown share the query's class."),
    ]
    page = render_html(f"infomax report: {run.resolve().name}", summary_line, figures,
                       config, probes, summary.get("online") or {})
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    _say(progress, f"wrote {index} in {time.time() - start:.0f} s")
    return index
