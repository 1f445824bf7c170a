"""Fashion-MNIST without its labels: the training split written as an unlabeled folder of
28 px grayscale PNGs (no class folders), pretrained with the demo's recipe and
``data.eval=fashion-mnist``, against the labeled run (``make demo``'s pretraining), same
seed, same images. Both are probed offline with the linear protocol on Fashion-MNIST.

The folder run sees the images as the labeled one does: one channel (``data.channels=1``),
Fashion-MNIST's mean and std, 28 px padded to 32 (``views.fit=pad``). Each pretraining item
brings the Fashion-MNIST image at the same position for the online probes, so with the
folder in the data set's order the two runs get the same batches.

    python benchmarks/unlabeled_fmnist.py --out /tmp/unlabeled-fmnist
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image
from tqdm import tqdm


def cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_folder(folder: Path) -> int:
    from infomax.data.source import data_root
    from infomax.data.registry import build_dataset

    train = build_dataset("fashion-mnist", "train", data_root(None), download=False)
    if (folder / "done").is_file():
        return len(train)
    for i in tqdm(range(len(train)), desc="writing PNGs"):
        image, _ = train[i]
        path = folder / f"{i // 1000:02d}" / f"{i:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[0].numpy()).save(path)
    (folder / "done").write_text("")
    return len(train)


def run(*args: str) -> None:
    cmd = [str(Path(sys.executable).parent / "infomax"), *args]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--results", type=Path,
                    default=Path(__file__).parent / "results" / "unlabeled_fmnist" / "result.json")
    ap.add_argument("--skip-finished", action="store_true",
                    help="keep a run folder whose summary.json says completed (runs started "
                         "by hand, e.g. both at once)")
    args = ap.parse_args()
    from infomax.data.registry import DATASETS

    info = DATASETS["fashion-mnist"].info
    folder = args.out / "fmnist-unlabeled"
    n = write_folder(folder)
    as_fmnist = ["data.channels=1", f"data.mean=[{info.mean[0]}]", f"data.std=[{info.std[0]}]",
                 "data.image_size=32", "views.fit=pad", "data.eval=fashion-mnist"]
    runs = {"labeled": [], "unlabeled-folder": ["--data", f"imagefolder:{folder}", *as_fmnist]}
    out: dict = {"command": " ".join(["python", *sys.argv]), "cpu": cpu(),
                 "date": time.strftime("%Y-%m-%d"), "images": n, "runs": {}}
    for name, extra in runs.items():
        summary_path = args.out / name / "summary.json"
        done = (args.skip_finished and summary_path.is_file()
                and json.loads(summary_path.read_text()).get("status") == "completed")
        if not done:
            run("pretrain", "--preset", "fmnist-tiny", "--out", str(args.out), "--name", name,
                "--overwrite", "--no-progress", *extra)
        ckpt = args.out / name / "last.ckpt"
        run("probe", str(ckpt), "--protocol", "linear", "--no-progress")
        probe = json.loads((args.out / name / "probe-last.json").read_text())
        summary = json.loads((args.out / name / "summary.json").read_text())
        out["runs"][name] = {"offline_linear_top1": probe["linear"]["top1"],
                             "online": summary["online"], "eval_data": summary["eval_data"],
                             "probe_data": probe["data"], "seconds": summary["seconds"],
                             "steps": summary["steps"]}
    a, b = (out["runs"][k]["offline_linear_top1"] for k in runs)
    out["gap_points"] = round(100 * abs(a - b), 2)  # top1 is a fraction
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
