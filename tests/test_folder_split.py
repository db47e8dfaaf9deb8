"""One folder of class folders: split by tinyvision (seeded, stratified), remembered in split.json,
decoded as predict decodes, and trained from a memory-mapped file when it does not fit in memory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import fit_run
from tinyvision.cli import main
from tinyvision.config import build_config
from tinyvision.datasets import load_dataset
from tinyvision.datasets.folder_cache import MappedImages
from tinyvision.datasets.split import SplitOptions
from tinyvision.image.prepare import Preparation, prepare


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYVISION_DATA", str(tmp_path / "cache"))


def quadrant_image(label: int, seed: int, size: int = 16) -> np.ndarray:
    """A bright square in the class's quadrant, on noise: four learnable classes."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 70, (size, size, 3), dtype=np.uint8)
    r, c = divmod(label, 2)
    half = size // 2
    image[r * half + 1 : (r + 1) * half - 1, c * half + 1 : (c + 1) * half - 1] = (230, 200, 90)
    return image


def one_folder(root: Path, per_class=(20, 20, 20, 20), ext=".png") -> Path:
    for label, count in enumerate(per_class):
        folder = root / f"c{label}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            Image.fromarray(quadrant_image(label, 1000 * label + i)).save(folder / f"{i:03d}{ext}")
    return root


def test_one_folder_is_split_80_10_10_stratified_and_seeded(tmp_path):
    root = one_folder(tmp_path / "pics")
    data = load_dataset(f"folder:{root}")  # the defaults: seed 0, 10% validation, 10% test
    for labels, per_class in ((data.train_labels, 16), (data.val_labels, 2), (data.test_labels, 2)):
        assert torch.bincount(labels, minlength=4).tolist() == [per_class] * 4
    again = load_dataset(f"folder:{root}")
    assert again.split_files == data.split_files
    other = load_dataset(f"folder:{root}", split=SplitOptions(seed=1, val_fraction=0.2, test_fraction=0.25))
    assert other.split_files != data.split_files
    assert len(other.test_labels) == 20 and len(other.val_labels) == 16
    assert set(data.split_files.values()) == {"train", "val", "test"} and len(data.split_files) == 80


def test_adding_files_keeps_the_other_files_in_their_split(tmp_path):
    root = one_folder(tmp_path / "pics", per_class=(30, 30))
    before = load_dataset(f"folder:{root}").split_files
    Image.fromarray(quadrant_image(0, 999)).save(root / "c0" / "new.png")
    after = load_dataset(f"folder:{root}").split_files
    moved = [f for f in before if after[f] != before[f]]
    assert len(moved) <= 2  # a class's rounded share may move one file; a reshuffle would move ~half


def test_tiny_classes_keep_a_training_and_a_test_image(tmp_path):
    root = one_folder(tmp_path / "pics", per_class=(40, 2, 3))
    data = load_dataset(f"folder:{root}")
    assert torch.bincount(data.train_labels, minlength=3).tolist() == [32, 1, 1]
    assert torch.bincount(data.test_labels, minlength=3).tolist() == [4, 1, 1]


def test_every_extension_in_any_case_and_hidden_files_skipped(tmp_path):
    root = tmp_path / "pics"
    formats = {".JPG": "JPEG", ".jpeg": "JPEG", ".PNG": "PNG", ".webp": "WEBP", ".bmp": "BMP", ".Tif": "TIFF",
               ".tiff": "TIFF", ".gif": "GIF"}
    for label in range(2):
        (root / f"k{label}").mkdir(parents=True)
        for i, (ext, fmt) in enumerate(formats.items()):
            Image.fromarray(quadrant_image(label, i)).save(root / f"k{label}" / f"{i}{ext}", fmt)
        (root / f"k{label}" / ".hidden.png").write_bytes(b"not even an image")
        (root / f"k{label}" / "notes.txt").write_text("not an image")
    data = load_dataset(f"folder:{root}")
    assert len(data.split_files) == 16 and not any("hidden" in f for f in data.split_files)


def test_mixed_gray_rgb_rgba_and_16_bit_files_read_as_predict_reads_them(tmp_path):
    root = tmp_path / "pics"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir(parents=True)
    rgb = quadrant_image(0, 1)
    Image.fromarray(rgb).save(root / "a" / "rgb.png")
    Image.fromarray(rgb[..., 0]).save(root / "a" / "gray.png")
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(root / "b" / "rgba.png")
    Image.fromarray(rgb[..., 1].astype(np.uint16) * 257).save(root / "b" / "deep.png")
    data = load_dataset(f"folder:{root}", split=SplitOptions(val_fraction=0.0, test_fraction=0.5))
    assert data.input_shape == (3, 16, 16)  # not all gray: RGB
    names = ["a/gray.png", "a/rgb.png", "b/deep.png", "b/rgba.png"]  # each split keeps the folder's order
    for split in ("train", "test"):
        files = [n for n in names if data.split_files[n] == split]
        for image, name in zip(getattr(data, f"{split}_images"), files, strict=True):
            assert torch.equal(image, prepare(root / name, Preparation("resize", (3, 16, 16))))


def test_train_on_one_folder_then_evaluate_uses_the_runs_own_test_files(tmp_path, capsys):
    root = one_folder(tmp_path / "pics")
    out = tmp_path / "run"
    code = main(["train", "--dataset", f"folder:{root}", "--model", "tvnet", "--epochs", "1", "--batch-size", "16",
                 "--seed", "3", "--out", str(out), "--no-plots", "--progress", "lines"])
    assert code == 0
    split = json.loads((out / "split.json").read_text())
    assert split["counts"] == {"train": 64, "val": 8, "test": 8} and split["made_by"]["seed"] == 3
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_count"] == 8
    for i in range(10):  # the folder grows after training
        Image.fromarray(quadrant_image(1, 5000 + i)).save(root / "c1" / f"later{i}.png")
    capsys.readouterr()
    assert main(["evaluate", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["test_count"] == 8 and report["test_acc"] == pytest.approx(metrics["test_acc"], abs=1e-6)
    assert "test_macro_f1" in report and "test_balanced_acc" in report
    assert "test_top5_acc" not in report  # 4 classes: top-5 says nothing


def test_a_folder_larger_than_the_memory_budget_trains_from_the_file_alike(tmp_path, monkeypatch):
    root = one_folder(tmp_path / "pics", per_class=(16, 16, 16, 16))
    name = f"folder:{root}"
    # No flips: a mirrored quadrant is another class.
    cfg = build_config(None, dict(dataset=name, model="tvnet", epochs=3, batch_size=16, lr=0.05, ema=0.0,
                                  hflip=False, tta_flip=False, translate=0, device="cpu"))
    in_memory = fit_run(cfg, tmp_path / "memory").metrics
    monkeypatch.setenv("TINYVISION_IMAGE_MEMORY_MB", "0.01")  # 10 KB: every split stays in the file
    data = load_dataset(name, split=SplitOptions(cfg.seed, cfg.val_fraction, cfg.test_fraction))
    assert isinstance(data.train_images, MappedImages) and isinstance(data.test_images, MappedImages)
    mapped = fit_run(cfg, tmp_path / "mapped").metrics
    assert mapped["history"] == in_memory["history"] or all(
        a[k] == pytest.approx(b[k], rel=1e-5) for a, b in zip(mapped["history"], in_memory["history"])
        for k in ("train_loss", "val_loss", "val_acc"))
    assert mapped["test_acc"] == pytest.approx(in_memory["test_acc"])
    assert mapped["test_acc"] > 0.5  # and it learnt (chance: 0.25)
    # Such a run is drawn and evaluated too: the mistakes figure took one image from the file (a traceback
    # after the run had finished), and evaluate refused the mapped split.
    import tinyvision

    run = tinyvision.Run(tmp_path / "mapped")
    if not mapped["worst_mistakes"]:  # a mistake to draw, whatever this run got right
        mapped["worst_mistakes"] = [{"index": 0, "label": 0, "predicted": 1, "confidence": 0.9}]
        (run.path / "metrics.json").write_text(json.dumps(mapped))
    assert {p.name for p in run.draw()} >= {"misclassified.png", "confusion.png"}
    assert run.model.evaluate()["test_acc"] == pytest.approx(mapped["test_acc"])


def test_decoding_in_worker_processes_matches_decoding_here(tmp_path, monkeypatch):
    import tinyvision.datasets.folder_cache as cache_module

    root = one_folder(tmp_path / "pics", per_class=(12, 12))
    here = load_dataset(f"folder:{root}")
    monkeypatch.setattr(cache_module, "INLINE_BELOW", 0)
    monkeypatch.setattr(cache_module, "CHUNK", 5)
    monkeypatch.setattr(cache_module, "workers", lambda: 2)
    monkeypatch.setenv("TINYVISION_DATA", str(tmp_path / "cache2"))
    pooled = load_dataset(f"folder:{root}")
    assert torch.equal(pooled.train_images, here.train_images) and pooled.split_files == here.split_files


def test_resume_trains_on_the_files_of_its_split_json(tmp_path):
    import threading

    import tinyvision

    root = one_folder(tmp_path / "pics", per_class=(10, 10))
    stop = threading.Event()
    stop.set()  # stops after the first step: the state and split.json are saved
    options = dict(model="tvnet", epochs=1, batch_size=4, lr=0.05, hflip=False, tta_flip=False, device="cpu")
    with pytest.raises(tinyvision.Interrupted):
        tinyvision.train(dataset=f"folder:{root}", out=tmp_path / "run", progress=False, plots=False, stop=stop,
                         **options)
    before = json.loads((tmp_path / "run" / "split.json").read_text())
    for i in range(30):  # new files, of another size, appear before the resume: not part of this run
        Image.fromarray(quadrant_image(i % 2, 7000 + i, size=24)).save(root / f"c{i % 2}" / f"late{i}.png")
    run = tinyvision.train(resume=tmp_path / "run", progress=False, plots=False)
    assert json.loads((tmp_path / "run" / "split.json").read_text()) == before
    assert run.metrics["test_count"] == before["counts"]["test"]
    assert run.model.input_shape == (3, 16, 16)  # the run's own size, not the folder's new most common one


def test_a_run_whose_folder_moved_is_resumed_and_evaluated_where_it_is_now(tmp_path, capsys):
    import shutil
    import threading

    import tinyvision

    root = one_folder(tmp_path / "pics", per_class=(10, 10))
    stop = threading.Event()
    stop.set()
    options = dict(model="tvnet", epochs=1, batch_size=4, lr=0.05, hflip=False, tta_flip=False, device="cpu")
    with pytest.raises(tinyvision.Interrupted):
        tinyvision.train(dataset=f"folder:{root}", out=tmp_path / "run", progress=False, plots=False, stop=stop,
                         **options)
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    moved = tmp_path / "elsewhere" / "pics"
    moved.parent.mkdir()
    root.rename(moved)
    capsys.readouterr()
    # Gone: said so, with how to name the new place (a moved folder could never be resumed).
    assert main(["train", "--resume", str(tmp_path / "run")]) == 2
    assert "the run's folder is gone; if it moved, pass --dataset=folder:NEW_PATH" in capsys.readouterr().err
    # A folder without the run's files is not the run's folder.
    partial = tmp_path / "partial"
    shutil.copytree(moved / "c0", partial / "c0")
    assert main(["train", "--resume", str(tmp_path / "run"), "--dataset", f"folder:{partial}"]) == 2
    assert "nor a folder holding the files of" in capsys.readouterr().err
    run = tinyvision.train(resume=tmp_path / "run", dataset=f"folder:{moved}", progress=False, plots=False)
    assert run.config.dataset == f"folder:{moved}"  # config.json says where the files are now
    assert run.metrics["test_count"] == split["counts"]["test"]
    # Evaluated on a copy of its folder, the run reads its own test files there: taken for another folder,
    # the whole copy was scored, its training images with the rest.
    copy = shutil.copytree(moved, tmp_path / "copy")
    assert main(["evaluate", str(tmp_path / "run"), "--dataset", f"folder:{copy}", "--out", str(tmp_path / "ev")]) == 0
    report = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    assert report["test_count"] == split["counts"]["test"] < len(split["files"])
    assert report["test_acc"] == run.metrics["test_acc"]
    # Other pictures under the same names are another folder: scored whole, and not resumed from.
    other = one_folder(tmp_path / "other", per_class=(20, 20))
    for path in other.rglob("*.png"):
        Image.fromarray(quadrant_image(int(path.parent.name[1:]), 5000 + int(path.stem))).save(path)
    assert main(["evaluate", str(tmp_path / "run"), "--dataset", f"folder:{other}", "--out", str(tmp_path / "ev2")
                 ]) == 0
    scored = json.loads((tmp_path / "ev2" / "evaluation.json").read_text())["test_count"]
    assert scored == len(list(other.rglob("*.png")))
    # A run that recorded no fingerprints (before they were written) cannot tell its folder from another of the
    # same names: the copy is then another folder, scored whole.
    written = json.loads((tmp_path / "run" / "split.json").read_text())
    assert len(written["digests"]) == len(written["files"]) == 20  # (fewer files than 32: each one)
    (tmp_path / "run" / "split.json").write_text(json.dumps({**written, "digests": {}}))
    assert main(["evaluate", str(tmp_path / "run"), "--dataset", f"folder:{copy}", "--out", str(tmp_path / "ev3")
                 ]) == 0
    assert json.loads((tmp_path / "ev3" / "evaluation.json").read_text())["test_count"] == 20
    # Its folder gone again, the run's figures from metrics.json are still drawn; the mistakes' need its images.
    moved.rename(tmp_path / "gone")
    capsys.readouterr()
    assert main(["plot", str(tmp_path / "run")]) == 0
    out, err = capsys.readouterr()
    assert "confusion.png" in out and "misclassified.png not drawn" in err and "the run's folder is gone" in err


def test_a_run_keeps_its_image_shape_when_the_folder_grows_other_sizes(tmp_path, capsys):
    import tinyvision

    root = tmp_path / "pics"
    for label in range(2):  # gray 16x16 photos
        (root / f"c{label}").mkdir(parents=True)
        for i in range(12):
            gray = quadrant_image(label, 100 * label + i)[..., 0]
            Image.fromarray(gray).save(root / f"c{label}" / f"{i:03d}.png")
    out = tmp_path / "run"
    assert main(["train", "--dataset", f"folder:{root}", "--model", "tvnet", "--epochs", "1", "--batch-size", "8",
                 "--out", str(out), "--no-plots", "--progress", "lines"]) == 0
    assert json.loads((out / "split.json").read_text())["input_shape"] == [1, 16, 16]
    metrics = json.loads((out / "metrics.json").read_text())
    for label in range(2):  # then colour 24x24 photos outnumber them: the folder alone would say (3, 24, 24)
        for i in range(30):
            image = quadrant_image(label, 900 + 100 * label + i, size=24)
            Image.fromarray(image).save(root / f"c{label}" / f"n{i}.png")
    assert load_dataset(f"folder:{root}").input_shape == (3, 24, 24)
    capsys.readouterr()
    assert main(["evaluate", str(out), "--json"]) == 0  # the run's own files, as the run saw them
    report = json.loads(capsys.readouterr().out)
    assert report["test_count"] == metrics["test_count"]
    assert report["test_acc"] == pytest.approx(metrics["test_acc"], abs=1e-6)
    assert main(["plot", str(out)]) == 0 and (out / "misclassified.png").is_file()

    other = tmp_path / "other"  # another folder of the same classes, other sizes: decoded to the model's input
    for label in range(2):
        (other / f"c{label}").mkdir(parents=True)
        for i in range(10):
            image = quadrant_image(label, 5000 + 100 * label + i, size=40)
            Image.fromarray(image).save(other / f"c{label}" / f"{i}.jpg")
    capsys.readouterr()
    assert main(["evaluate", str(out), "--dataset", f"folder:{other}", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["test_count"] == 20  # all of it: it was never trained on
    (other / "c1").rename(other / "zz")
    assert main(["evaluate", str(out), "--dataset", f"folder:{other}"]) == 2
    err = capsys.readouterr().err
    assert "knows the classes c0, c1" in err and "has zz, which it does not" in err
    assert len(err.strip().splitlines()) == 1
    assert tinyvision.load(out).input_shape == (1, 16, 16)


def test_the_decode_cache_never_answers_for_another_folder_or_a_replaced_photo(tmp_path, monkeypatch):
    # Its key was each file's name, size, time and mode: two folders unzipped with normalised timestamps shared
    # one entry (a "held-out" folder was scored on the other's pixels), and a photo replaced by another of the
    # same size, its time kept (cp -p, rsync -a), was served as the old one.
    import os

    def bmp_folder(root: Path, seed: int) -> Path:
        for label in range(2):
            (root / f"c{label}").mkdir(parents=True)
            for i in range(10):  # BMPs: one size for any picture
                path = root / f"c{label}" / f"{i:02d}.bmp"
                Image.fromarray(quadrant_image(label, seed + 10 * label + i)).save(path)
                os.utime(path, ns=(315_532_800 * 10**9, 315_532_800 * 10**9))  # 1980-01-01, as zips keep it
        return root

    def pixels(root: Path) -> torch.Tensor:
        data = load_dataset(f"folder:{root}", split=SplitOptions(0, 0.1, 0.1))
        return torch.cat([data.train_images, data.val_images, data.test_images])

    a, b = bmp_folder(tmp_path / "a", 0), bmp_folder(tmp_path / "b", 5000)
    first, second = pixels(a), pixels(b)
    monkeypatch.setenv("TINYVISION_DATA", str(tmp_path / "fresh-cache"))
    assert torch.equal(second, pixels(b)) and not torch.equal(first, second)
    monkeypatch.setenv("TINYVISION_DATA", str(tmp_path / "cache"))
    photo = b / "c0" / "03.bmp"
    Image.fromarray(quadrant_image(1, 9999)).save(photo)  # another picture, same size ...
    os.utime(photo, ns=(315_532_800 * 10**9, 315_532_800 * 10**9))  # ... and the same time
    monkeypatch.setenv("TINYVISION_DATA", str(tmp_path / "fresh-cache-2"))
    replaced = pixels(b)
    monkeypatch.setenv("TINYVISION_DATA", str(tmp_path / "cache"))
    assert torch.equal(pixels(b), replaced) and not torch.equal(replaced, second)


def test_the_files_a_split_fingerprints_are_spread_over_all_of_them(tmp_path):
    from tinyvision.datasets.split import DIGESTS, file_digests

    root = tmp_path / "pics"
    root.mkdir()
    names = {f"{i:03d}.png": "train" for i in range(120)}
    for name in names:
        (root / name).write_bytes(name.encode())
    chosen = sorted(file_digests(f"folder:{root}", names))
    assert len(chosen) == DIGESTS and chosen[0] == "000.png" and chosen[-1] == "119.png"


def test_an_export_written_elsewhere_scores_its_runs_own_test_files_after_the_folder_grew(tmp_path):
    # Exported outside its run folder, a model.onnx found no split.json: once the folder had grown, evaluate
    # scored all of it, the run's validation images (which chose its temperature and threshold) too.
    import tinyvision

    root = one_folder(tmp_path / "pics", per_class=(10, 10))
    run = tinyvision.train(dataset=f"folder:{root}", out=tmp_path / "run", progress=False, plots=False,
                           model="tvnet", epochs=1, batch_size=4, lr=0.05, hflip=False, tta_flip=False,
                           device="cpu", val_fraction=0.2, test_fraction=0.2)
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    exported = tinyvision.load(run.path).export("onnx", tmp_path / "shipped" / "model.onnx")
    # Another run's split.json beside the export is not this run's split.
    (tmp_path / "shipped" / "split.json").write_text(json.dumps({**split, "files": {}}))
    one_folder(tmp_path / "more", per_class=(10, 10))
    for path in (tmp_path / "more").rglob("*.png"):  # 20 new files under new names
        path.rename(root / path.parent.name / f"new-{path.name}")
    own = tinyvision.load(run.path).evaluate()
    away = tinyvision.load(exported).evaluate()
    assert away["test_count"] == own["test_count"] == split["counts"]["test"] < 40
    assert away["test_acc"] == pytest.approx(own["test_acc"])
    # The card names the test files only (the training files' names stay in the run folder), and knows a copy
    # of the folder by them.
    carried = json.loads((tmp_path / "shipped" / "model.onnx.json").read_text())["split"]
    assert carried["files"] == {name: "test" for name, part in split["files"].items() if part == "test"}
    assert carried["digests"] and set(carried["digests"]) <= set(carried["files"])
    import shutil

    copy = shutil.copytree(root, tmp_path / "copy")
    assert tinyvision.load(exported).evaluate(f"folder:{copy}")["test_count"] == split["counts"]["test"]
    # Exported while its folder is away, the card keeps the fingerprints the run recorded: evaluated where the
    # folder is now, as the error says to, it scored the whole folder.
    moved = root.rename(tmp_path / "moved")
    again = tinyvision.load(run.path).export("onnx", tmp_path / "shipped2" / "model.onnx")
    with pytest.raises(tinyvision.TinyVisionError, match="the run's folder is gone"):
        tinyvision.load(again).evaluate()
    assert tinyvision.load(again).evaluate(f"folder:{moved}")["test_count"] == split["counts"]["test"]
