"""A folder larger than memory: decode throughput, resident memory while training, epoch time.

Generates (deterministically) a one-folder dataset of COUNT 64x64 RGB JPEG
images in 10 classes (a class is a colour and stripe pattern plus noise, so
the task is learnable), decodes it once into tinyvision's memory-mapped cache
(every core), then trains on it with `--limit-batches` for a short run whose
step time gives the epoch-time estimate. A thread samples the process's
resident memory (/proc/self/status: VmRSS, RssAnon, RssFile; VmHWM) through
each phase. Writes benchmarks/results/large_folder.json.

    OMP_NUM_THREADS=2 python benchmarks/large_folder.py --count 300000 --folder /tmp/large-folder

The generated folder (~1 GB of JPEGs) and the cache (3.7 GB) are left in
place for a rerun; pass --clean to delete both at the end.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Python puts this folder first on sys.path for a script run from it: search it last, so that no
# script here can shadow a standard-library module.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.append(sys.path.pop(0))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402

import numpy as np  # noqa: E402
from provenance import RESULTS_DIR, recorded, write_results  # noqa: E402

CLASSES = 10
SIDE = 64


def make_image(index: int) -> tuple[int, np.ndarray]:
    """Image `index`: class index % 10. A smooth random field (its own per image, so no two images are
    alike) tinted with the class's colour, with a bright square where the class says."""
    from PIL import Image

    label = index % CLASSES
    rng = np.random.default_rng(index)
    field = rng.uniform(0, 255, (8, 8, 3)).astype(np.uint8)
    image = np.asarray(Image.fromarray(field).resize((SIDE, SIDE), Image.Resampling.BICUBIC), np.float32)
    colour = np.array([(label * 37) % 256, (label * 91) % 256, (label * 53) % 256], np.float32)
    image = 0.6 * image + 0.4 * colour
    r, c = divmod(label, 5)
    image[8 + 24 * r : 24 + 24 * r, 2 + 12 * c : 12 + 12 * c] = 255
    image += rng.normal(0, 6, image.shape)
    return label, np.clip(image, 0, 255).astype(np.uint8)


def write_images(folder: str, start: int, stop: int) -> int:
    from PIL import Image

    for index in range(start, stop):
        label, pixels = make_image(index)
        Image.fromarray(pixels).save(os.path.join(folder, f"class{label}", f"{index:07d}.jpg"), quality=90)
    return stop - start


def generate(folder: Path, count: int, workers: int) -> dict:
    if folder.exists() and sum(1 for _ in folder.rglob("*.jpg")) == count:
        return {"generated": False, "count": count}
    shutil.rmtree(folder, ignore_errors=True)
    for k in range(CLASSES):
        (folder / f"class{k}").mkdir(parents=True)
    started = time.perf_counter()
    step = 5000
    with ProcessPoolExecutor(workers) as pool:
        done = sum(pool.map(write_images, [str(folder)] * len(range(0, count, step)), range(0, count, step),
                            [min(count, s + step) for s in range(0, count, step)]))
    seconds = time.perf_counter() - started
    size = sum(p.stat().st_size for p in folder.rglob("*.jpg"))
    return {"generated": True, "count": done, "seconds": round(seconds, 1), "bytes_on_disk": size}


class MemorySampler(threading.Thread):
    """Samples /proc/self/status every `interval` s; `phase` names what the samples are counted under."""

    FIELDS = ("VmRSS", "RssAnon", "RssFile", "VmHWM")

    def __init__(self, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.interval, self.phase, self.peaks = interval, "start", {}
        self.stopped = threading.Event()

    @staticmethod
    def read() -> dict[str, int]:
        values = {}
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in MemorySampler.FIELDS:
                values[key] = int(rest.split()[0]) * 1024
        return values

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            values = self.read()
            peak = self.peaks.setdefault(self.phase, {})
            for key, value in values.items():
                peak[key] = max(peak.get(key, 0), value)

    def report(self) -> dict:
        return {phase: {k: round(v / 2**20, 1) for k, v in p.items()} for phase, p in self.peaks.items()}


def train(name: str, out: Path, args: argparse.Namespace, memory: MemorySampler) -> dict:
    """A short run, as `tinyvision train` does it, with the memory phases marked by a callback."""
    from tinyvision.config import build_config
    from tinyvision.distributed import Distributed
    from tinyvision.progress import Progress
    from tinyvision.run_folder import RunFolder
    from tinyvision.training import Callback, Reporter, Saver, fit
    from tinyvision.training.data_check import DataCheck

    class Phases(Callback):
        def on_start(self, s, pos, resumed):
            memory.phase = "train: steps and validation"

        def on_epoch_end(self, s, pos, row):
            memory.phase = "train: calibration and test"

    cfg = build_config(None, dict(dataset=name, model=args.model, epochs=1, limit_batches=args.limit_batches,
                                  batch_size=args.batch_size, device="cpu"))
    memory.phase = "train: load, normalisation"
    run = RunFolder(out)
    progress = Progress(1, bar=False)
    hooks = [Reporter(progress), Saver(run), DataCheck(progress), Phases()]  # as `tinyvision train` runs it
    result = fit(cfg, run, hooks, Distributed())
    memory.phase = "done"
    return result.metrics["history"][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300_000)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/large-folder"))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/large-folder-cache"))
    parser.add_argument("--limit-batches", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--model", default="tvnet")
    parser.add_argument("--clean", action="store_true", help="delete the folder and the cache at the end")
    parser.add_argument("--reuse-cache", action="store_true",
                        help="keep the decoded cache of a previous run (and its decode figures) and measure training")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "large_folder.json")
    args = parser.parse_args()
    os.environ["TINYVISION_DATA"] = str(args.cache)  # a cache of its own: the first load decodes
    sys.stdout.reconfigure(line_buffering=True)

    import torch

    from tinyvision.datasets.folder import open_folder
    from tinyvision.datasets.folder_cache import memory_budget, workers

    memory = MemorySampler()
    memory.start()
    result: dict = {"count": args.count, "image": f"{SIDE}x{SIDE} RGB JPEG (quality 90)", "classes": CLASSES}
    with recorded() as prov:
        memory.phase = "generate"
        result["generate"] = generate(args.folder, args.count, workers())
        print("generate", result["generate"])
        name = f"folder:{args.folder}"
        previous = json.loads(args.out.read_text()) if args.reuse_cache and args.out.is_file() else {}
        if "decode" in previous:  # the decode measured by the previous run, whose cache is reused
            result["decode"] = {"measured_by_the_run_of": previous["provenance"]["start_time"],
                                "memory_mb": previous.get("memory_mb", {}).get("decode"), **previous["decode"]}
        else:
            shutil.rmtree(args.cache, ignore_errors=True)
            memory.phase = "decode"
            started = time.perf_counter()
            folder = open_folder(name)
            seconds = time.perf_counter() - started
            result["decode"] = {
                "seconds": round(seconds, 1), "images_per_second": round(args.count / seconds),
                "workers": workers(), "cache_bytes": folder.store.path.stat().st_size,
                "unreadable": len(folder.index.errors),
                "note": "headers read, then every file decoded and resized by image.prepare, in worker processes",
            }
            del folder
        print("decode", result["decode"])
        out = Path(args.cache) / "run"
        shutil.rmtree(out, ignore_errors=True)
        history = train(name, out, args, memory)
        split = json.loads((out / "split.json").read_text())["counts"]
        steps_per_epoch = split["train"] // args.batch_size
        step_seconds = history["epoch_seconds"] / args.limit_batches
        result["train"] = {
            "model": args.model, "batch_size": args.batch_size, "limit_batches": args.limit_batches,
            "split": split, "steps_per_epoch": steps_per_epoch, "seconds_per_step": round(step_seconds, 4),
            "images_per_second": round(args.batch_size / step_seconds),
            "epoch_seconds_estimate": round(steps_per_epoch * step_seconds),
            "note": f"a {args.limit_batches}-batch run; the epoch time is steps_per_epoch x its mean step time "
                    "(training steps only: validation and test evaluation also stop at the batch limit)",
            "train_acc_after_limit": history["train_acc"], "val_acc_after_limit": history["val_acc"],
            "data_in_memory_budget_mb": memory_budget() >> 20, "torch_threads": torch.get_num_threads(),
        }
        print("train", result["train"])
        memory.stopped.set()
        memory.join()
    result["memory_mb"] = memory.report()
    result["memory_target_mb"] = 1536
    result["provenance"] = prov
    write_results(args.out, result)
    print(f"-> {args.out}")
    if args.clean:
        shutil.rmtree(args.folder, ignore_errors=True)
        shutil.rmtree(args.cache, ignore_errors=True)


if __name__ == "__main__":
    main()
