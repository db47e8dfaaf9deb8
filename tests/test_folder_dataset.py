"""folder:PATH datasets with train/ and test/: real PNG/JPEG files, the memory-mapped cache, bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import tinyvision.datasets.folder_cache as cache_module
from tinyvision.cli import main
from tinyvision.datasets import load_dataset
from tinyvision.errors import TinyVisionError


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYVISION_DATA", str(tmp_path / "cache"))


def save_image(path: Path, value: int, size=(12, 12), mode="L", fmt="PNG") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
    array = np.full(shape, value, dtype=np.uint8)
    array[0, 0] = 255 - value  # not flat, so resizing has something to do
    Image.fromarray(array, mode).save(path, fmt)


def labelled(root: Path, classes, per_class: int, start: int, step: int) -> Path:
    """Class folders of small gray images, class k's i-th of value start + step * k + i."""
    for k, name in enumerate(classes):
        for i in range(per_class):
            save_image(root / name / f"{i}.png", start + step * k + i)
    return root


def train_mlp(root: Path, run: Path) -> None:
    """One epoch of the MLP on `folder:root` into `run`, from the command line."""
    assert main(["train", "--dataset", f"folder:{root}", "--model", "mlp", "--epochs", "1", "--out", str(run),
                 "--no-plots", "--progress", "lines"]) == 0


def make_folder(root: Path, classes=("cat", "dog"), n_train=6, n_test=2, mode="L", fmt="PNG") -> Path:
    ext = ".png" if fmt == "PNG" else ".jpg"
    for k, name in enumerate(classes):
        for i in range(n_train):
            size = (12, 12) if i else (20, 16)  # one odd size per class: the most common size wins
            save_image(root / "train" / name / f"{i}{ext}", 40 + 80 * k, size, mode, fmt)
        for i in range(n_test):
            save_image(root / "test" / name / f"{i}{ext}", 40 + 80 * k, (12, 12), mode, fmt)
    return root


def test_gray_png_folder_loads_at_its_most_common_size(tmp_path):
    root = make_folder(tmp_path / "pics")
    data = load_dataset(f"folder:{root}")
    assert data.classes == ("cat", "dog")
    # No val/: one image of each class of train/ is held out (10%, at least one), stratified.
    assert data.train_images.shape == (10, 1, 12, 12) and data.val_images.shape == (2, 1, 12, 12)
    assert data.test_images.shape == (4, 1, 12, 12)
    assert data.train_labels.tolist() == [0] * 5 + [1] * 5 and sorted(data.val_labels.tolist()) == [0, 1]
    means = [data.train_images[data.train_labels == k].float().mean() for k in (0, 1)]
    assert means[1] > means[0]
    assert data.split_files["test/cat/0.png"] == "test" and len(data.split_files) == 16


def test_a_val_folder_is_the_validation_split(tmp_path):
    root = make_folder(tmp_path / "pics")
    for k, name in enumerate(("cat", "dog")):
        save_image(root / "val" / name / "v.png", 40 + 80 * k)
    data = load_dataset(f"folder:{root}")
    assert len(data.train_labels) == 12 and data.val_labels.tolist() == [0, 1] and len(data.test_labels) == 4


def test_colour_jpegs_resized_to_image_size(tmp_path):
    root = make_folder(tmp_path / "pics", classes=("a", "b", "c"), mode="RGB", fmt="JPEG")
    data = load_dataset(f"folder:{root}", image_size=16)
    assert data.input_shape == (3, 16, 16) and len(data.classes) == 3


def test_second_load_comes_from_the_cache_and_changes_invalidate_it(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "pics")
    first = load_dataset(f"folder:{root}")
    assert len(list((tmp_path / "cache" / "folders").glob("*.u8"))) == 1
    assert len(list((tmp_path / "cache" / "folders").glob("*.json"))) == 1

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again despite an unchanged folder")

    monkeypatch.setattr(cache_module, "build_cache", no_decoding)
    again = load_dataset(f"folder:{root}")
    assert (again.train_images == first.train_images).all() and again.classes == first.classes
    monkeypatch.undo()
    monkeypatch.setenv("TINYVISION_DATA", str(tmp_path / "cache"))
    save_image(root / "train" / "dog" / "new.png", 200)
    data = load_dataset(f"folder:{root}")
    assert len(data.train_labels) + len(data.val_labels) == 13  # a new file: decoded again
    # A file's permissions changed (chmod leaves size and time alone): a file once unreadable for them and
    # then fixed was still reported unreadable from the cache.
    files = ["train/dog/new.png"]
    before = cache_module.cache_key(root, files, [1], None)
    (root / "train" / "dog" / "new.png").chmod(0o600)
    assert cache_module.cache_key(root, files, [1], None) != before


def test_unreadable_images_are_skipped_with_one_warning_giving_the_decoders_reason(tmp_path, capsys):
    root = make_folder(tmp_path / "pics")
    (root / "train" / "cat" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    cut = root / "train" / "dog" / "3.png"
    cut.write_bytes(cut.read_bytes()[:50])  # the pixel data cut short
    data = load_dataset(f"folder:{root}")
    assert len(data.train_labels) + len(data.val_labels) == 11
    err = capsys.readouterr().err
    assert "skipped 2 unreadable image(s)" in err and len(err.splitlines()) == 1
    # (A PNG's signature over garbage is a broken PNG, not a file of another kind.)
    assert "train/cat/broken.png (corrupt or truncated" in err and "train/dog/3.png (corrupt" in err


def bad_folder(tmp_path: Path, case: str) -> list[str]:
    root = tmp_path / "pics"
    if case == "missing":
        return ["--dataset", f"folder:{tmp_path / 'nope'}"]
    make_folder(root, classes=("cat",) if case == "one-class" else ("cat", "dog"))
    if case == "empty-class":
        (root / "train" / "bird").mkdir()
    if case == "corrupt-class":
        for p in (root / "train" / "dog").iterdir():
            p.write_bytes(b"garbage")
    if case == "no-test":
        import shutil

        shutil.rmtree(root / "test")
    if case == "image-size":
        return ["--dataset", f"folder:{root}", "--image-size", "0"]
    if case == "too-small-for-the-model":  # tvnet's three poolings leave nothing of 4x4
        return ["--dataset", f"folder:{root}", "--image-size", "4"]
    if case == "fractions":
        return ["--dataset", f"folder:{root}", "--val-fraction", "0.5", "--test-fraction", "0.5"]
    return ["--dataset", f"folder:{root}"]


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "is not a folder"),
        ("one-class", "at least 2"),
        ("empty-class", "bird holds no images"),
        ("corrupt-class", "no readable training images in class(es) dog"),
        ("no-test", "has train/ but no test/ folder"),
        ("image-size", "--image-size must be between"),
        ("too-small-for-the-model", "tvnet needs images of at least 8x8, got 4x4"),
        ("fractions", "leave no training images"),
    ],
)
def test_bad_folders_fail_with_one_line_and_write_nothing(tmp_path, capsys, case, message):
    out = tmp_path / "run"
    code = main(["train", *bad_folder(tmp_path, case), "--model", "tvnet", "--epochs", "1", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_image_size_that_does_not_match_a_fixed_dataset(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--dataset", "mnist", "--image-size", "32", "--out", str(out)]) == 2
    assert "--image-size 32 does not match mnist, whose images are 28x28" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(TinyVisionError, match="does not apply"):
        load_dataset(f"folder:{tmp_path}", data_dir=tmp_path)


def test_train_on_a_folder_end_to_end(tmp_path, capsys):
    root = make_folder(tmp_path / "pics", mode="RGB", fmt="JPEG", n_train=40, n_test=8)
    out = tmp_path / "run"
    code = main(["train", "--dataset", f"folder:{root}", "--epochs", "1", "--batch-size", "16",
                 "--out", str(out), "--no-plots", "--progress", "lines"])
    assert code == 0
    import json

    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "tvresnet-wide" and config["hflip"] is True  # photos: the colour CNN, with flips
    assert (out / "model.safetensors").is_file()
    split = json.loads((out / "split.json").read_text())
    assert split["counts"] == {"train": 76, "val": 4, "test": 16}  # val: 5% of train/, stratified
    printed = capsys.readouterr().out
    # The one-line data check: these generated images are flat, so the copies are found.
    assert "data check: 96 images (76 train / 4 val / 16 test), 2 classes:" in printed
    assert "warning: leakage:" in printed


def test_the_size_is_chosen_as_photos_are_shown_and_from_files_the_decoder_takes(tmp_path):
    root = tmp_path / "pics"
    exif = Image.Exif()
    exif[0x0112] = 6  # "turn a quarter to show"
    for k, name in enumerate(("cat", "dog")):
        (root / "train" / name).mkdir(parents=True)
        for i in range(4):  # a phone's portrait photos: stored 24 wide, 12 tall, shown turned upright
            image = Image.fromarray(np.full((12, 24, 3), 40 + 80 * k + i, dtype=np.uint8))
            image.save(root / "train" / name / f"p{i}.jpg", "JPEG", exif=exif.tobytes())
        for i in range(6):  # icons the decoder refuses (under 8x8): more of them, but no say in the size
            save_image(root / "train" / name / f"icon{i}.png", 40 + 80 * k, (6, 6))
        save_image(root / "test" / name / "t.png", 40 + 80 * k, (12, 24), mode="RGB")
    data = load_dataset(f"folder:{root}")
    assert data.input_shape == (3, 24, 12)  # 24 tall, 12 wide: as the decoder shows them
    assert len(data.train_labels) + len(data.val_labels) == 8  # the icons are reported, not read


def test_a_broken_link_is_reported_unreadable_and_a_class_named_train_is_a_class(tmp_path, capsys):
    root = tmp_path / "pics"
    for k, name in enumerate(("bus", "car", "train")):  # one folder whose classes include "train"
        for i in range(5):
            save_image(root / name / f"{i}.png", 30 + 70 * k)
    (root / "car" / "gone.png").symlink_to(tmp_path / "nowhere.png")
    data = load_dataset(f"folder:{root}")
    assert data.classes == ("bus", "car", "train")
    assert len(data.train_labels) + len(data.val_labels) + len(data.test_labels) == 15
    err = capsys.readouterr().err
    assert "skipped 1 unreadable image(s): car/gone.png (broken link)" in err


def test_images_in_a_linked_sub_folder_of_a_class_count_once_and_links_that_loop_are_not_followed(tmp_path, capsys):
    # photos/dog/2023 -> a folder kept elsewhere: its 30 photos were left out without a word (a linked class
    # folder was followed), and dog counted only the photos in its own folder.
    root = labelled(tmp_path / "pics", ("cat", "dog"), 10, 40, 100)
    elsewhere = tmp_path / "nas" / "dog2023"
    for i in range(30):
        save_image(elsewhere / f"{i}.png", 150 + i)
    save_image(tmp_path / "nas" / "stray.png", 20)  # beside the linked folder, not in it
    dog = root / "dog"
    (dog / "2023").symlink_to(elsewhere)
    (dog / "again").symlink_to(elsewhere)  # a second link to it: counted once
    (elsewhere / "back").symlink_to("..")  # up from the linked folder: nas/ holds it (a loop)
    (dog / "up").symlink_to(root)  # the dataset itself: cat's images are no dog's
    (dog / "self").symlink_to(".")
    data = load_dataset(f"folder:{root}")
    files = sorted(data.split_files)
    assert len(data.train_labels) + len(data.val_labels) + len(data.test_labels) == 50
    assert [f for f in files if f.startswith("dog/")] == sorted(
        [f"dog/{i}.png" for i in range(10)] + [f"dog/2023/{i}.png" for i in range(30)])
    assert "unreadable" not in capsys.readouterr().err


def test_a_folder_named_relative_to_here_is_found_from_anywhere_and_photos_train_at_224(tmp_path, monkeypatch,
                                                                                           capsys):
    # config.json held "folder:pics" as typed, so evaluate or --resume from another directory said
    # "pics is not a folder"; and 600x450 photos trained at full size (a 1600x1200 folder asked for GBs).
    import json

    root = tmp_path / "pics"
    for k, name in enumerate(("cat", "dog")):
        for i in range(8):
            save_image(root / name / f"{i}.png", 40 + 80 * k, (600, 450), "RGB")
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--dataset", "folder:pics", "--epochs", "1", "--out", "run", "--no-plots",
                 "--progress", "lines"]) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["dataset"] == f"folder:{root}"
    assert load_dataset(f"folder:{root}").train_images.shape[1:] == (3, 168, 224)  # 600x450 kept its shape
    monkeypatch.chdir(tmp_path.parent)
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run")]) == 0


def test_a_run_is_evaluated_on_its_own_classes_after_class_folders_are_added(tmp_path, capsys):
    # Adding photos/bird after training made `evaluate RUN` refuse ("no readable training images in class(es)
    # bird"), though the docs promise the run's own split even after the folder has grown; a new val/cow in a
    # train/test layout refused too. A class sorting before the others would also have shifted every label.
    import json

    for layout in ("classes", "splits"):
        root = tmp_path / layout / "pics"
        if layout == "classes":
            for k, name in enumerate(("cat", "dog")):
                for i in range(12):
                    save_image(root / name / f"{i}.png", 40 + 160 * k + i)
        else:
            make_folder(root, n_train=12, n_test=4)
        run = tmp_path / layout / "run"
        assert main(["train", "--dataset", f"folder:{root}", "--model", "mlp", "--epochs", "1", "--out", str(run),
                     "--no-plots", "--progress", "lines"]) == 0
        capsys.readouterr()
        assert main(["evaluate", str(run), "--json"]) == 0
        before = json.loads(capsys.readouterr().out)
        for i in range(5):  # "bird" sorts before "cat": its folder would take label 0
            save_image((root / "bird" if layout == "classes" else root / "train" / "bird") / f"{i}.png", 90)
        if layout == "splits":
            save_image(root / "val" / "cow" / "0.png", 130)
            for name in ("cat", "dog"):  # val/ now exists: it must keep the run's own val split
                save_image(root / "val" / name / "0.png", 60)
        assert main(["evaluate", str(run), "--json"]) == 0, capsys.readouterr().err
        after = json.loads(capsys.readouterr().out)
        assert after["test_acc"] == before["test_acc"] and after["classes"] == before["classes"] == ["cat", "dog"]


def test_a_run_is_evaluated_on_its_own_test_files_however_its_folder_is_spelled_and_after_a_cleanup(
        tmp_path, monkeypatch, capsys):
    # `evaluate RUN --dataset folder:pics/` (relative, a trailing slash) was taken for another folder and split
    # again with seed 0: a run of seed 3 was scored mostly on its own training images. And deleting training
    # images blocked evaluate ("file(s) of the run's split are gone"), though it needs only the test files.
    import json

    root = tmp_path / "pics"
    for k, name in enumerate(("cat", "dog")):
        for i in range(20):
            save_image(root / name / f"{i}.png", 40 + 160 * k + i)
    run = tmp_path / "run"
    assert main(["train", "--dataset", f"folder:{root}", "--model", "mlp", "--epochs", "1", "--seed", "3",
                 "--out", str(run), "--no-plots", "--progress", "lines"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0
    own = json.loads(capsys.readouterr().out)
    # Only the run's test files are left: a split made again would test on a share of them (and the run's
    # own split refused, its training files gone).
    for name, split in json.loads((run / "split.json").read_text())["files"].items():
        if split != "test":
            (root / name).unlink()
    monkeypatch.chdir(tmp_path)
    for spelled in (None, "folder:pics/", "folder:./pics", f"digits:{root}"):
        assert main(["evaluate", str(run), "--json", *(["--dataset", spelled] if spelled else [])]) == 0, spelled
        again = json.loads(capsys.readouterr().out)
        assert (again["test_acc"], again["test_count"]) == (own["test_acc"], own["test_count"]), spelled


def test_a_class_folder_named_in_latin_1_trains_draws_and_evaluates(tmp_path):
    # Old zips and Windows shares give names that are not UTF-8: training ran to its end, then died in a
    # matplotlib traceback drawing the class names (exit 1, the run "finished"), and evaluate did too.
    import os
    import subprocess
    import sys

    root = tmp_path / "pics"
    # ... and a name with a newline in it broke evaluate's one-line-per-class table ("   red", then "light ...").
    for k, name in enumerate((os.fsdecode(b"caf\xe9"), "tea", "red\nlight")):
        for i in range(12):
            save_image(root / name / f"{i}.png", 20 + 90 * k + i)
    run = tmp_path / "run"
    for args in (["train", "--dataset", f"folder:{root}", "--model", "mlp", "--epochs", "1", "--out", str(run),
                  "--progress", "lines"], ["evaluate", str(run)]):
        # In a process of its own: the class name goes to stdout as its own bytes, as `ls` writes it.
        done = subprocess.run([sys.executable, "-m", "tinyvision", *args], capture_output=True, timeout=300,
                              env={**os.environ, "TINYVISION_DATA": str(tmp_path / "cache")})
        assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr[-2000:]
    assert b"caf\xe9" in done.stdout  # evaluate's per-class table
    lines = done.stdout.splitlines()  # the title, the metrics, the header, a line per class, the confusion's file
    assert len(lines) == 7 and lines[-1].startswith(b"confusion"), done.stdout
    assert sorted(line.split()[0] for line in lines[3:6]) == [b"caf\xe9", b"red\\nlight", b"tea"], done.stdout
    assert (run / "confusion.png").is_file() and (run / "misclassified.png").is_file()


FINE_TUNE = dict(model="mlp", epochs=1, progress=False, plots=False)


def fine_tune_source(tmp_path):
    """A folder of 30 cats and 30 dogs and a run trained on it with seed 0 (the source of a fine-tune)."""
    import tinyvision

    root = tmp_path / "pics"
    for k, name in enumerate(("cat", "dog")):
        for i in range(30):
            save_image(root / name / f"{i}.png", 40 + 160 * k + i)
    return root, tinyvision.train(dataset=f"folder:{root}", out=tmp_path / "source", seed=0, **FINE_TUNE)


def test_a_fine_tune_on_its_sources_folder_keeps_the_sources_split(tmp_path):
    # --init-from a run of the same folder with another seed split it afresh: 48 of the fine-tune's 60 test
    # images were its source's training images, scored as unseen. The source's split is kept, and only files
    # added since are split by the new seed.
    import json

    import tinyvision

    root, source = fine_tune_source(tmp_path)
    for k, name in enumerate(("cat", "dog")):
        for i in range(30, 40):
            save_image(root / name / f"{i}.png", 40 + 160 * k + i)
    tuned = tinyvision.train(dataset=f"folder:{root}/", out=tmp_path / "tuned", seed=5, init_from=source, **FINE_TUNE)
    before = json.loads((source.path / "split.json").read_text())["files"]
    after = json.loads((tuned.path / "split.json").read_text())["files"]
    assert {f: after[f] for f in before} == before  # every file where it was
    added = {f: s for f, s in after.items() if f not in before}
    assert len(added) == 20 and sorted(set(added.values())) == ["test", "train", "val"]


def test_a_fine_tune_on_a_moved_copy_of_its_sources_folder_keeps_the_sources_split(tmp_path):
    # Compared by path alone, a copy of the source's folder (a new disk, a renamed folder) was split afresh:
    # most of the fine-tune's test images were its source's training images, silently. `evaluate` already
    # knew the copy as the run's folder; a fine-tune keeps the source's split there too.
    import json
    import shutil

    import tinyvision

    root, source = fine_tune_source(tmp_path)
    moved = tmp_path / "moved"
    shutil.copytree(root, moved)
    tuned = tinyvision.train(dataset=f"folder:{moved}", out=tmp_path / "tuned", seed=5, init_from=source, **FINE_TUNE)
    before = json.loads((source.path / "split.json").read_text())["files"]
    after = json.loads((tuned.path / "split.json").read_text())["files"]
    assert after == before


def test_another_labelled_folder_is_evaluated_whole_even_with_some_of_the_classes(tmp_path, capsys):
    # evaluate --dataset folder:OTHER scored the tenth of it a seed-0 split calls test (60 of 600 images), and a
    # folder with only some of the model's classes was refused ("the same names, in the same order").
    import json

    root = labelled(tmp_path / "pics", ("cat", "dog", "fox"), 12, 30, 90)
    run = tmp_path / "run"
    train_mlp(root, run)
    other = labelled(tmp_path / "other", ("cat", "fox"), 15, 35, 180)
    capsys.readouterr()
    assert main(["evaluate", str(run), "--dataset", f"folder:{other}", "--json", "--out", str(tmp_path / "e")]) == 0
    report = json.loads(capsys.readouterr().out)
    support = {row["class"]: row["support"] for row in report["per_class"]}
    assert report["test_count"] == 30 and support == {"cat": 15, "dog": 0, "fox": 15}
    (other / "fox").rename(tmp_path / "fox")  # a folder of one of its classes: scored too
    assert main(["evaluate", str(run), "--dataset", f"folder:{other}", "--json", "--out", str(tmp_path / "e")]) == 0
    assert json.loads(capsys.readouterr().out)["test_count"] == 15
    # A train/ + test/ folder is scored on its test/, whatever its train/ holds (empty class folders too).
    split_other = make_folder(tmp_path / "split-other", classes=("cat", "dog"), n_train=0, n_test=3)
    for name in ("cat", "dog"):
        (split_other / "train" / name).mkdir(parents=True)
    assert main(["evaluate", str(run), "--dataset", f"folder:{split_other}", "--json", "--out",
                 str(tmp_path / "e")]) == 0
    assert json.loads(capsys.readouterr().out)["test_count"] == 6
    (other / "owl").mkdir()
    save_image(other / "owl" / "0.png", 99)
    assert main(["evaluate", str(run), "--dataset", f"folder:{other}", "--out", str(tmp_path / "e")]) == 2
    assert "owl, which it does not" in capsys.readouterr().err


def test_a_small_folder_trains_in_small_batches_unless_told_otherwise(tmp_path):
    # The photo recipe's batch of 256 gave a folder of 750 photos 2 steps an epoch, 12 in all: 100% on its
    # training images, 41% on its test split (benchmarks/small_folders.py measures the rule).
    from tinyvision.run import config_for

    root = tmp_path / "pics"
    for name in ("cat", "dog"):
        for i in range(500):
            (root / name).mkdir(parents=True, exist_ok=True)
            (root / name / f"{i}.png").write_bytes(b"")  # listed, never decoded here
    assert config_for(f"folder:{root}", None, None, {}).batch_size == 32  # 800 training images: 25 steps
    assert config_for(f"folder:{root}", None, None, {"batch_size": 256}).batch_size == 256
    assert config_for("cifar10", None, None, {}).batch_size == 256


def test_class_names_in_either_unicode_form_are_one_class(tmp_path, capsys):
    # macOS writes "café" decomposed (NFD): a model of a Mac's folder "did not know" the same classes copied
    # from Linux, and a folder holding both spellings trained two classes that print alike.
    import unicodedata

    names = ("café", "crème")
    mac = labelled(tmp_path / "mac", [unicodedata.normalize("NFD", n) for n in names], 12, 40, 160)
    run = tmp_path / "run"
    train_mlp(mac, run)
    linux = labelled(tmp_path / "linux", [unicodedata.normalize("NFC", n) for n in names], 4, 40, 160)
    capsys.readouterr()
    assert main(["evaluate", str(run), "--dataset", f"folder:{linux}", "--out", str(tmp_path / "ev")]) == 0
    assert "test set (8 images)" in capsys.readouterr().out
    both = tmp_path / "both"
    for form in ("NFC", "NFD"):
        save_image(both / unicodedata.normalize(form, "café") / "0.png", 50)
    save_image(both / "tea" / "0.png", 200)
    assert main(["check-data", f"folder:{both}", "--out", str(tmp_path / "check")]) == 2
    assert "in two Unicode forms" in capsys.readouterr().err
    split = tmp_path / "split"  # train/ written on a Mac, test/ elsewhere
    labelled(split / "train", [unicodedata.normalize("NFD", n) for n in names], 4, 40, 160)
    labelled(split / "test", [unicodedata.normalize("NFC", n) for n in names], 2, 40, 160)
    assert main(["check-data", f"folder:{split}", "--out", str(tmp_path / "check2")]) == 2
    assert "name one class in two Unicode forms" in capsys.readouterr().err


def test_the_worst_mistakes_name_their_files(tmp_path, capsys):
    # metrics.json and `evaluate --json` gave each mistake as an index into the test split: a folder's user
    # could not find the image to look at it (or to fix its label).
    import json
    import os

    root = tmp_path / "pics"
    for k, name in enumerate(("dark", "light")):
        for i in range(24):
            save_image(root / "train" / name / f"{i}.png", 20 + 200 * k + i)
        for i in range(4):
            save_image(root / "test" / name / f"{i}.png", 22 + 200 * k + i)
    odd = os.fsdecode(b"misfiled-caf\xe9.png")  # a light image filed as dark, under a name that is not UTF-8
    save_image(root / "test" / "dark" / odd, 225)
    run = tmp_path / "run"
    assert main(["train", "--dataset", f"folder:{root}", "--model", "mlp", "--epochs", "8", "--out", str(run),
                 "--no-plots", "--progress", "lines"]) == 0
    mistakes = json.loads((run / "metrics.json").read_text())["worst_mistakes"]
    assert f"test/dark/{odd}" in [m["file"] for m in mistakes], mistakes
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)["worst_mistakes"]
    assert [m["file"] for m in evaluated] == [m["file"] for m in mistakes]


def test_a_full_disk_while_decoding_a_folder_is_one_line_and_leaves_no_temporary(tmp_path, monkeypatch, capsys):
    """The decoded images are written through a memory map into the cache's temporary file. Only truncated to
    its size, that file had no blocks on the disk: on a full disk the first row written past the free space
    killed the process with SIGBUS, with no message and a temporary as large as the folder left behind for
    good (a red team's 4 MB tmpfs). The space is now taken, really, before a row is written."""
    import errno
    import os

    from tinyvision.atomic import allocate

    (tmp_path / "big").touch()
    allocate(tmp_path / "big", 1 << 20)
    stat = os.stat(tmp_path / "big")
    assert stat.st_size == 1 << 20 and stat.st_blocks * 512 >= 1 << 20  # on the disk, not a hole
    root = make_folder(tmp_path / "data")

    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full, raising=False)
    capsys.readouterr()
    assert main(["check-data", f"folder:{root}", "--no-near"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.endswith("No space left on device") and ".u8" in err
    folders = tmp_path / "cache" / "folders"
    assert not folders.exists() or not [p.name for p in folders.iterdir() if p.suffix in (".tmp", ".u8")]


def test_a_python_bytecode_folder_beside_the_classes_is_no_class(tmp_path):
    """A script kept with the data leaves __pycache__/ beside the class folders: a class folder of no images,
    and the whole folder was refused (exit 2) by train and check-data alike."""
    root = labelled(tmp_path / "pics", ("cat", "dog"), 12, 40, 80)
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "prepare.cpython-311.pyc").write_bytes(b"\xa7\r\r\n compiled")
    data = load_dataset(f"folder:{root}")
    assert data.classes == ("cat", "dog")
    assert main(["check-data", f"folder:{root}", "--no-near", "--out", str(tmp_path / "check")]) == 0


@pytest.mark.parametrize("damage", ["ok one short", "labels of another folder", "shape of two numbers", "null",
                                    "deeply nested"])
def test_a_damaged_cache_index_is_rebuilt_not_a_traceback(tmp_path, capsys, damage):
    """An index whose lists disagree (a red team cut `ok` by one; the image file's size still matched) ended
    check-data with a numpy broadcasting traceback and exit 1, check-data's "problems found". A damaged index
    is no index: the folder is decoded again."""
    import json

    root = make_folder(tmp_path / "pics")
    first = load_dataset(f"folder:{root}")
    index_path = next((tmp_path / "cache" / "folders").glob("*.json"))
    index = json.loads(index_path.read_text())
    if damage == "ok one short":
        index["ok"] = index["ok"][:-1]
    elif damage == "labels of another folder":
        index["labels"] = [1 - v for v in index["labels"]]
    elif damage == "shape of two numbers":
        index["shape"] = index["shape"][1:]
    index_text = json.dumps(index) if damage not in ("null", "deeply nested") else \
        "null" if damage == "null" else "[" * 100_000 + "]" * 100_000
    index_path.write_text(index_text)
    again = load_dataset(f"folder:{root}")
    assert (again.train_images == first.train_images).all() and (again.train_labels == first.train_labels).all()
    assert main(["check-data", f"folder:{root}", "--out", str(tmp_path / "check")]) in (0, 1)
    assert "Traceback" not in capsys.readouterr().err


def test_a_pipe_or_a_device_named_like_an_image_is_reported_unreadable_not_skipped_or_waited_on(tmp_path, capsys):
    """A pipe (a/fifo.png) and a link to a device (b/zero.png) were skipped without a word: the user's count of
    images did not add up and nothing said why. They are listed, and the decoder reports each "not a file"; a
    pipe is never opened (reading one waits for a writer for good)."""
    import os

    root = labelled(tmp_path / "pics", ("a", "b"), 12, 40, 80)
    os.mkfifo(root / "a" / "fifo.png")
    (root / "b" / "zero.png").symlink_to("/dev/zero")
    assert main(["check-data", f"folder:{root}", "--no-near", "--out", str(tmp_path / "check")]) == 1
    assert "2 unreadable file(s)" in capsys.readouterr().out
    report = (tmp_path / "check" / "report.md").read_text()
    assert "`a/fifo.png`: not a file" in report and "`b/zero.png`: not a file" in report
