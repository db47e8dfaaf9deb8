"""`tinyvision compare` end to end on a tiny generated dataset, and the per-dataset defaults."""

from __future__ import annotations

import json

import pytest

from tinyvision.cli import main
from tinyvision.config import build_config
from tinyvision.errors import TinyVisionError


def test_compare_writes_the_report_table_json_and_figure(tiny_dataset, tmp_path, capsys):
    out = tmp_path / "cmp"
    code = main(["compare", "--dataset", tiny_dataset, "--models", "mlp,tvnet", "--epochs", "2",
                 "--out", str(out), "--progress", "lines"])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert [r["model"] for r in report["results"]] == ["mlp", "tvnet"]
    for r in report["results"]:
        assert r["epochs"] == 2 and len(r["history"]) == 2 and r["parameters"] > 0
        assert r["test_acc"] > 0.5  # the quadrant task is easy: both models beat chance (25%)
        assert (out / r["model"] / "model.safetensors").is_file()
    table = (out / "report.md").read_text()
    assert "| model | parameters | epochs | training time | test accuracy | test loss |" in table
    assert "| mlp |" in table and "| tvnet |" in table
    assert (out / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| tvnet |" in capsys.readouterr().out

    # Runs are keyed by the model each name stands for: `runs["default"]` was a bare KeyError: 'default'.
    import tinyvision

    runs = tinyvision.Comparison(out, report).runs
    assert runs["tvnet"].path == out / "tvnet"
    with pytest.raises(KeyError, match=r"'default'.* keyed by model name .*: mlp, tvnet"):
        runs["default"]


def test_compare_refuses_bad_requests_before_writing(tiny_dataset, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", "--dataset", tiny_dataset, "--models", "mlp,resnet9000", "--out", str(out)]) == 2
    assert "unknown model 'resnet9000'" in capsys.readouterr().err and not out.exists()
    assert main(["compare", "--dataset", tiny_dataset, "--models", "tvnet,default", "--out", str(out)]) == 2
    assert "twice" in capsys.readouterr().err and not out.exists()


def test_same_split_for_every_model_even_with_a_preset_of_its_own(tiny_dataset, tmp_path):
    from tinyvision.compare import CompareSpec, model_config

    c = CompareSpec(dataset="cifar10", models=("mlp", "tutorial-a", "default"), out=tmp_path)
    configs = [model_config(c, m) for m in c.models]
    assert {cfg.val_fraction for cfg in configs} == {configs[0].val_fraction}
    assert [cfg.model for cfg in configs] == ["mlp", "tutorial-a", "tvresnet-wide"]
    assert configs[1].optimizer == "adam"  # tutorial-a keeps its own recipe
    assert model_config(c, "mlp:3").epochs == 3 and model_config(c, "default:2").model == "tvresnet-wide"


def test_dataset_defaults_flip_photos_never_digits_and_flags_win():
    assert build_config(None, {"dataset": "mnist"}).hflip is False
    assert build_config("tutorial-a", {"dataset": "mnist"}).hflip is False
    cifar = build_config(None, {"dataset": "cifar10"})
    assert cifar.hflip is True and cifar.translate >= 2 and cifar.model == "tvresnet-wide"
    assert build_config(None, {"dataset": "folder:/x"}).hflip is True
    assert build_config("tutorial-a", {"dataset": "cifar10"}).translate == 0  # a preset beats the defaults
    assert build_config(None, {"dataset": "cifar10", "hflip": False, "tta_flip": False}).hflip is False  # flags win
    assert cifar.tta_flip  # photos: the mirror image votes too, in every inference path (the model card)
    clothes = build_config(None, {"dataset": "fashion-mnist"})
    assert clothes.hflip and clothes.tta_flip and clothes.model == "tvnet-clothes"
    assert not build_config(None, {"dataset": "mnist"}).tta_flip
    with pytest.raises(TinyVisionError, match="tta_flip=False"):
        build_config(None, {"dataset": "fashion-mnist", "hflip": False})
    assert not build_config(None, {"dataset": "fashion-mnist", "hflip": False, "tta_flip": False}).tta_flip


def test_the_default_digit_recipe_reads_handwriting_and_the_speed_presets_stay_plain():
    digits = build_config(None, {"dataset": "mnist"})
    assert (digits.model, digits.augment) == ("tvnet-digits", "handwriting")
    assert digits.outlier_exposure > 0 and digits.font_digits > 0  # it learns to say "not a digit"
    assert digits.hand_digits > 0  # and from other writers than MNIST's
    for preset in ("plain", "fast", "best", "tutorial-a", "mlp"):
        cfg = build_config(preset, {"dataset": "mnist"})
        assert (cfg.augment, cfg.outlier_exposure, cfg.font_digits, cfg.hand_digits) == ("shift", 0.0, 0.0, 0.0), preset
    assert build_config("plain", {"dataset": "mnist"}).model == "tvnet"
    assert build_config(None, {"dataset": "mnist", "augment": "shift"}).augment == "shift"  # flags win
