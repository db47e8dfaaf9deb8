import io
import json

import numpy as np
import pytest
import safetensors
import safetensors.torch
import torch
from PIL import Image

import tinyvision
from tinyvision.checkpoint import ModelCard, load_model, load_train_state, save_model, stored_digest
from tinyvision.errors import TinyVisionError
from tinyvision.models import create_model
from tinyvision.normalization import Normalization


def card(model: str = "tutorial-b") -> ModelCard:
    return ModelCard(
        model=model, input_shape=(1, 28, 28), classes=tuple("0123456789"),
        normalization=Normalization((0.5,), (0.5,)), dataset="mnist", config={}, code_version="test",
        metrics={},
    )


def test_round_trip_keeps_weights_and_card(tmp_path):
    model = create_model("tutorial-b", (1, 28, 28), 10).to(memory_format=torch.channels_last)
    save_model(tmp_path / "m.safetensors", model, card())
    loaded, loaded_card = load_model(tmp_path / "m.safetensors")
    assert loaded_card == card()
    x = torch.randn(3, 1, 28, 28)
    assert torch.allclose(model.eval()(x), loaded(x), atol=1e-5)  # memory layouts differ


def test_a_model_card_edited_by_hand_is_refused(tmp_path):
    # The weights' checksum did not cover the card: the classes "1" and "7" swapped made a 7 read "1" at 100%.
    from tinyvision.checkpoint import read_metadata

    save_model(tmp_path / "m.safetensors", create_model("tutorial-b", (1, 28, 28), 10), card())
    metadata = read_metadata(tmp_path / "m.safetensors")
    swapped = json.loads(metadata["tinyvision"])
    swapped["classes"] = list("0721456389")
    safetensors.torch.save_file(safetensors.torch.load_file(tmp_path / "m.safetensors"), tmp_path / "e.safetensors",
                                metadata={**metadata, "tinyvision": json.dumps(swapped)})
    with pytest.raises(TinyVisionError, match="model card does not match its checksum"):
        load_model(tmp_path / "e.safetensors")


def test_checkpoint_of_another_model_is_refused(tmp_path):
    save_model(tmp_path / "m.safetensors", create_model("tutorial-b", (1, 28, 28), 10), card("tutorial-b"))
    weights = safetensors.torch.load_file(tmp_path / "m.safetensors")
    # Same file, metadata claiming another architecture: the weights cannot fit.
    safetensors.torch.save_file(weights, tmp_path / "lie.safetensors",
                                metadata={"tinyvision": card("tutorial-a").to_json()})
    with pytest.raises(TinyVisionError, match="do not fit model 'tutorial-a'"):
        load_model(tmp_path / "lie.safetensors")


def test_garbage_and_foreign_files_are_refused(tmp_path):
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(TinyVisionError, match="not a readable safetensors"):
        load_model(tmp_path / "junk.safetensors")
    safetensors.torch.save_file({"w": torch.zeros(2)}, tmp_path / "plain.safetensors")
    with pytest.raises(TinyVisionError, match="not a tinyvision checkpoint"):
        load_model(tmp_path / "plain.safetensors")
    bad = json.loads(card().to_json())
    bad["format"] = 99
    safetensors.torch.save_file({"w": torch.zeros(2)}, tmp_path / "future.safetensors",
                                metadata={"tinyvision": json.dumps(bad)})
    with pytest.raises(TinyVisionError, match="invalid tinyvision metadata"):
        load_model(tmp_path / "future.safetensors")
    with pytest.raises(TinyVisionError, match="no checkpoint"):
        load_model(tmp_path / "missing")


class Exploit:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_training_state_never_runs_code_from_the_file(tmp_path):
    marker = tmp_path / "pwned"
    buffer = io.BytesIO()
    torch.save({"position": Exploit(str(marker))}, buffer)
    (tmp_path / "train_state.pt").write_bytes(buffer.getvalue())
    with pytest.raises(TinyVisionError, match="refused: it holds objects other than tensors") as refused:
        load_train_state(tmp_path / "train_state.pt")
    assert not marker.exists()
    assert "\n" not in str(refused.value) and "weights_only" not in str(refused.value)  # no unsafe advice


def test_a_damaged_weight_is_refused_not_answered_with(tmp_path):
    path = tmp_path / "m.safetensors"
    save_model(path, create_model("tutorial-b", (1, 28, 28), 10), card())
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF  # one byte of the last weights: still a valid file, with a wrong weight
    path.write_bytes(bytes(data))
    with pytest.raises(TinyVisionError, match="do not match their checksum"):
        load_model(path)


def test_the_stored_digest_names_the_weights_without_loading_them(tmp_path):
    """Benchmarks record it to tell a retrained model from the one a run folder held before."""
    first, second = tmp_path / "a", tmp_path / "b"
    for folder, seed in ((first, 0), (second, 1)):
        folder.mkdir()
        torch.manual_seed(seed)
        save_model(folder / "model.safetensors", create_model("tutorial-b", (1, 28, 28), 10), card())
    assert len(stored_digest(first)) == 64 and stored_digest(first) == stored_digest(first / "model.safetensors")
    assert stored_digest(first) != stored_digest(second)
    (tmp_path / "junk.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(TinyVisionError, match="not a readable"):
        stored_digest(tmp_path / "junk.safetensors")


def test_weights_that_are_not_numbers_are_refused(tmp_path):
    model = create_model("tutorial-b", (1, 28, 28), 10)
    with torch.no_grad():
        next(model.parameters())[0] = float("nan")
    save_model(tmp_path / "m.safetensors", model, card())
    with pytest.raises(TinyVisionError, match="NaN or infinite"):
        load_model(tmp_path / "m.safetensors")


@pytest.mark.parametrize("change", [
    {"tta": {"shift": 50, "flip": False}},  # 10,201 views of every image
    {"input_shape": [1, 4000, 4000]},
    {"input_shape": [2, 28, 28]},
    {"normalization": {"mean": [0.5], "std": [0.0]}},
    {"normalization": {"mean": [1e300], "std": [0.5]}},  # finite in JSON, infinite in float32: NaN answers
    {"normalization": {"mean": [0.5], "std": [1e-30]}},
    {"reject": {"threshold": "abc"}},
    {"reject": {"threshold": 1e308, "score": "energy"}},  # every image refused
    {"preparation": "exec"},
])
def test_a_card_out_of_range_is_refused_before_anything_is_built(tmp_path, change):
    model = create_model("tutorial-b", (1, 28, 28), 10)
    save_model(tmp_path / "m.safetensors", model, card())
    weights = safetensors.torch.load_file(tmp_path / "m.safetensors")
    bad = {**json.loads(card().to_json()), **change}
    safetensors.torch.save_file(weights, tmp_path / "bad.safetensors", metadata={"tinyvision": json.dumps(bad)})
    with pytest.raises(TinyVisionError, match="invalid tinyvision metadata .*out of range"):
        load_model(tmp_path / "bad.safetensors")


@pytest.mark.parametrize(("change", "words"), [
    ({"tta": {"shift": 0, "flip": "false"}}, "tta flip: bool expected"),  # "false" would turn mirrored views on
    ({"classes": "0123456789"}, "classes: list expected"),  # a string would become ten classes, silently
    ({"temperature": True}, "temperature True"),
    ({"input_shape": [1, 28.7, 28]}, "input_shape: int expected"),
    ({"tta": [0, False]}, "tta: dict expected"),
    ({"reject": {"number_thresholds": [3.0]}}, "number_thresholds: dict expected"),
    ({"kind": "weird"}, "out of range: kind 'weird'"),
    # The config evaluate and export split the run's folder by: a seed of "x" ended them in int()'s traceback.
    ({"config": {"seed": "x"}}, "out of range: config seed"),
    ({"config": {"seed": 1.5}}, "out of range: config seed"),
    ({"config": {"val_fraction": "0.1"}}, "out of range: config fractions"),
    ({"config": {"test_fraction": float("nan")}}, "out of range: config fractions"),
    ({"config": {"image_size": 10 ** 30}}, "out of range: config image_size"),
])
def test_a_card_of_the_wrong_types_is_one_line_not_coerced(tmp_path, change, words):
    save_model(tmp_path / "m.safetensors", create_model("tutorial-b", (1, 28, 28), 10), card())
    weights = safetensors.torch.load_file(tmp_path / "m.safetensors")
    bad = {**json.loads(card().to_json()), **change}
    safetensors.torch.save_file(weights, tmp_path / "bad.safetensors", metadata={"tinyvision": json.dumps(bad)})
    with pytest.raises(TinyVisionError, match=f"invalid tinyvision metadata \\({words}"):
        load_model(tmp_path / "bad.safetensors")
    safetensors.torch.save_file(weights, tmp_path / "list.safetensors", metadata={"tinyvision": "[1, 2]"})
    with pytest.raises(TinyVisionError, match="the card: dict expected"):
        load_model(tmp_path / "list.safetensors")


def test_a_few_bytes_declaring_gigabytes_are_refused_before_anything_is_allocated(tmp_path):
    import resource

    # A card for an MLP on 3x1024x1024 images (a 12.9 GB first layer) beside one tiny tensor, and a header
    # declaring a 3 GiB tensor in a file of a few bytes: both refused from the header alone.
    huge = {**json.loads(card().to_json()), "model": "mlp", "input_shape": [3, 1024, 1024],
            "normalization": {"mean": [0.5] * 3, "std": [0.5] * 3}}
    safetensors.torch.save_file({"w": torch.zeros(2)}, tmp_path / "mlp.safetensors",
                                metadata={"tinyvision": json.dumps(huge)})
    header = json.dumps({"__metadata__": {"tinyvision": card().to_json()},
                         "x": {"dtype": "F32", "shape": [1 << 28, 3], "data_offsets": [0, 3 << 30]}}).encode()
    with open(tmp_path / "sparse.safetensors", "wb") as f:
        f.write(len(header).to_bytes(8, "little") + header)
        f.truncate(8 + len(header) + (3 << 30))  # sparse: no disk used
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(TinyVisionError, match="do not fit model 'mlp'.*missing"):
        load_model(tmp_path / "mlp.safetensors")
    with pytest.raises(TinyVisionError, match="do not fit model 'tutorial-b'.*unexpected x"):
        load_model(tmp_path / "sparse.safetensors")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KB: nothing of the sort


@pytest.mark.parametrize("dtype", [torch.float8_e4m3fn, torch.int32, torch.uint8, torch.bool])
def test_weights_of_a_kind_of_number_the_model_does_not_hold_are_refused(tmp_path, dtype):
    model = create_model("tutorial-b", (1, 28, 28), 10)
    state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in model.state_dict().items()}
    safetensors.torch.save_file(state, tmp_path / "m.safetensors", metadata={"tinyvision": card().to_json()})
    with pytest.raises(TinyVisionError, match="holds .* numbers, not F16 or BF16 or F32 or F64"):
        load_model(tmp_path / "m.safetensors")
    half = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    safetensors.torch.save_file(half, tmp_path / "half.safetensors", metadata={"tinyvision": card().to_json()})
    assert load_model(tmp_path / "half.safetensors")[0](torch.zeros(1, 1, 28, 28)).dtype == torch.float32


def test_an_unfinished_runs_model_loads_with_a_one_line_warning(tiny_dataset, tmp_path, capsys):
    # A run stopped before its end has a model.safetensors (to try, to resume) that is neither calibrated
    # nor given refusal thresholds: it loaded silently and answered every photo with confidence.
    import threading
    import warnings

    from conftest import fit_run
    from tinyvision.cli import main
    from tinyvision.config import RunConfig
    from tinyvision.errors import UnfinishedRunWarning
    from tinyvision.training import Interrupted

    cfg = RunConfig(dataset=tiny_dataset, model="tvnet", epochs=2, batch_size=32, seed=0).validate()
    stop = threading.Event()
    stop.set()
    with pytest.raises(Interrupted):
        fit_run(cfg, tmp_path / "stopped", stop=stop)
    with pytest.warns(UnfinishedRunWarning, match=r"unfinished run .*never abstains.*tinyvision.train\(resume="):
        tinyvision.load(tmp_path / "stopped")
    image = tmp_path / "x.png"
    Image.fromarray(np.full((12, 12), 200, np.uint8)).save(image)
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "stopped"), str(image)]) == 0
    err = capsys.readouterr().err
    assert err.startswith("tinyvision: warning: ") and err.count("\n") == 1 and "Traceback" not in err

    fit_run(cfg, tmp_path / "stopped", resume=True)  # finished: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnfinishedRunWarning)
        tinyvision.load(tmp_path / "stopped")


def test_a_checkpoint_under_a_name_that_is_not_utf8_is_named_not_blamed(tmp_path):
    # A run folder renamed with Latin-1 bytes: "not a readable safetensors checkpoint" blamed an intact file.
    import os

    folder = tmp_path / os.fsdecode(b"caf\xe9")
    folder.mkdir()
    save_model(folder / "m.safetensors", create_model("tutorial-b", (1, 28, 28), 10), card())
    with pytest.raises(TinyVisionError, match="its path is not UTF-8 text") as refused:
        load_model(folder / "m.safetensors")
    assert "not a readable" not in str(refused.value)


def test_a_small_model_loads_without_torchs_compiler_and_checking_shapes_draws_no_random_numbers(tmp_path):
    import subprocess
    import sys

    from tinyvision.checkpoint import check_tensors
    from tinyvision.models import fits

    # Checking a card's shapes on the meta device made torch import its compiler (1.5 s): `tinyvision
    # predict` took 4 s for one digit, more than a third of it that. A small model's shapes are checked on
    # the CPU; a fresh process that loads one and reads a batch never imports torch._dynamo.
    save_model(tmp_path / "m.safetensors", create_model("tvnet-digits", (1, 28, 28), 10), card("tvnet-digits"))
    script = ("import sys, torch\nfrom tinyvision.checkpoint import load_model\n"
              f"model, _ = load_model({str(tmp_path / 'm.safetensors')!r})\nmodel(torch.zeros(2, 1, 28, 28))\n"
              "print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr
    # The throwaway model draws nothing from the global generator: a seeded run's weights do not depend on
    # whether its shapes were checked first.
    torch.manual_seed(0)
    straight = create_model("tvnet-digits", (1, 28, 28), 10).state_dict()
    torch.manual_seed(0)
    assert fits("tvnet-digits", (1, 28, 28), 10) and fits("mlp", (1, 28, 28), 10)
    check_tensors(tmp_path / "m.safetensors", card("tvnet-digits"))
    checked = create_model("tvnet-digits", (1, 28, 28), 10).state_dict()
    assert all(torch.equal(straight[k], checked[k]) for k in straight)


def test_loading_a_model_draws_nothing_from_the_callers_random_generator(tmp_path):
    # Building the network to load into drew its random initial weights from torch's global generator (then
    # overwrote them from the file): a notebook that seeded torch, loaded a model and sampled got other numbers
    # than without the load.
    from dataclasses import replace

    model = create_model("tvnet-digits", (1, 28, 28), 10)
    finished = replace(card("tvnet-digits"), metrics={"test_acc": 0.5})  # (an unfinished run's model warns)
    save_model(tmp_path / "run" / "model.safetensors", model, finished)
    save_model(tmp_path / "bare.safetensors", model, finished)
    for load in (lambda: tinyvision.load(tmp_path / "run").graph.network,
                 lambda: tinyvision.load(tmp_path / "bare.safetensors").graph.network,
                 lambda: load_model(tmp_path / "bare.safetensors")[0]):
        torch.manual_seed(1234)
        expected = torch.rand(3)
        torch.manual_seed(1234)
        loaded = load()
        assert torch.equal(torch.rand(3), expected)
        assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in model.state_dict().items())
