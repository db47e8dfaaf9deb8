"""benchmarks/report.py: the tables in the docs are rewritten from, and checked against, the results JSON."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


report = load("benchmarks_report", BENCHMARKS / "report.py")
provenance = load("benchmarks_provenance", BENCHMARKS / "provenance.py")
peers = load("benchmarks_peers", BENCHMARKS / "peers" / "__init__.py")
mnist_files = load("benchmarks_peers_mnist_files", BENCHMARKS / "peers" / "mnist_files.py")

SERVE = {"requests": 2000, "clients": 16, "seconds": 33.4, "requests_per_second": 59.8, "latency_ms_p50": 266.7,
         "latency_ms_p99": 413.2, "latency_ms_max": 527.4, "statuses": {"200": 2000, "503": 12}, "errors": 0,
         "correct_predictions": 2000, "payload_kb_mean": 17.9, "server_alive_after": True,
         "server_rss_mb_idle": 570.0, "server_rss_mb_peak": 610.0, "server_rss_mb_after": 600.0,
         "server_log": ["tinyvision: serving tvnet (mnist) on http://127.0.0.1:1/ (2 workers x 1 thread(s), queue 8)"]}
STALE = "\n| requests | requests/s |\n| ---: | ---: |\n| 2,000 | 61.0 |\n\nFrom somewhere.\n\n"


def block(name: str, body: str = STALE) -> str:
    return f"<!-- table:{name} -->\n{body}<!-- /table:{name} -->\n"


def make_repo(tmp_path: Path, readme: str, docs: dict[str, str] | None = None,
              results: dict[str, dict] | None = None) -> Path:
    (tmp_path / "README.md").write_text(readme)
    for rel, text in (docs or {}).items():
        (tmp_path / "docs" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "docs" / rel).write_text(text)
    for rel, data in ({"serve_load.json": SERVE} if results is None else results).items():
        path = tmp_path / "benchmarks" / "results" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data))
    return tmp_path


def snapshot(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*.md"))}


def test_stale_block_is_reported_then_rewritten_and_rewriting_again_changes_nothing(tmp_path, capsys):
    readme = "# title\n\nintro\n\n" + block("serve-load") + "\noutro\n"
    root = make_repo(tmp_path, readme, docs={"perf/serving.md": "# serving\n" + block("serve-load")})
    before = snapshot(root)

    assert report.main(["--check", "--root", str(root)]) == 1
    diff = capsys.readouterr().out
    assert "-| 2,000 | 61.0 |" in diff and "+| 2,000 | 16 | 59.8 | 267 ms |" in diff
    assert "README.md table:serve-load" in diff and "docs/perf/serving.md table:serve-load" in diff
    assert snapshot(root) == before, "--check must not write"

    assert report.main(["--root", str(root)]) == 0
    text = (root / "README.md").read_text()
    assert text.startswith("# title\n\nintro\n\n<!-- table:serve-load -->\n\n| requests |")
    assert text.endswith("<!-- /table:serve-load -->\n\noutro\n")
    assert "From `benchmarks/results/serve_load.json`" in text
    assert (root / "docs/perf/serving.md").read_text().count("59.8") == 1

    capsys.readouterr()
    after = snapshot(root)
    assert report.main(["--check", "--root", str(root)]) == 0
    assert capsys.readouterr().out == ""
    assert report.main(["--root", str(root)]) == 0
    assert snapshot(root) == after
    assert "0 of 2 tables changed" in capsys.readouterr().out


def test_a_changed_result_makes_the_block_stale(tmp_path):
    root = make_repo(tmp_path, block("serve-load"))
    assert report.main(["--root", str(root)]) == 0
    assert report.main(["--check", "--root", str(root)]) == 0
    path = root / "benchmarks/results/serve_load.json"
    path.write_text(json.dumps({**SERVE, "requests_per_second": 12.5}))
    assert report.main(["--check", "--root", str(root)]) == 1


def test_unknown_table_is_refused_and_nothing_is_written(tmp_path, capsys):
    readme = block("serve-load") + "\n" + block("no-such-table")
    root = make_repo(tmp_path, readme)
    before = snapshot(root)
    assert report.main(["--check", "--root", str(root)]) == 1
    assert "unknown table 'no-such-table'" in capsys.readouterr().err
    assert report.main(["--root", str(root)]) == 1
    assert "nothing written" in capsys.readouterr().err
    assert snapshot(root) == before  # not even the good block


def test_missing_results_file_is_refused(tmp_path, capsys):
    root = make_repo(tmp_path, block("inference"))
    assert report.main(["--check", "--root", str(root)]) == 1
    assert "benchmarks/results/inference.json is missing" in capsys.readouterr().err
    assert report.main(["--root", str(root)]) == 1


def test_smoke_run_results_are_refused(tmp_path, capsys):
    root = make_repo(tmp_path, block("serve-load"), results={"serve_load.json": {**SERVE, "smoke": True}})
    assert report.main(["--check", "--root", str(root)]) == 1
    assert "smoke run" in capsys.readouterr().err


def test_broken_markers_are_refused_and_markers_in_code_are_examples(tmp_path, capsys):
    example = "```markdown\n<!-- table:no-such-table -->\n<!-- /table:no-such-table -->\n```\n"
    root = make_repo(tmp_path, example + "<!-- table:serve-load -->\nstale\n")
    assert report.main(["--check", "--root", str(root)]) == 1
    err = capsys.readouterr().err
    assert "README.md:5: table:serve-load is never closed" in err and "no-such-table" not in err

    (root / "README.md").write_text(example + block("serve-load"))
    assert report.main(["--root", str(root)]) == 0
    assert report.main(["--check", "--root", str(root)]) == 0
    assert (root / "README.md").read_text().startswith(example)

    (root / "README.md").write_text("<!-- table:serve-load -->\n<!-- /table:inference -->\n")
    assert report.main(["--check", "--root", str(root)]) == 1
    assert "closes a block that is not open" in capsys.readouterr().err


def test_source_line_names_the_file_command_and_load(tmp_path):
    with provenance.recorded() as prov:
        pass
    prov.update(command="OMP_NUM_THREADS=1 python benchmarks/serve_load.py runs/default --requests 2000",
                load_average_before=[0.25, 0.5, 0.75], load_average_after=[1.5, 1.0, 0.8])
    root = make_repo(tmp_path, block("serve-load"), results={"serve_load.json": {**SERVE, "provenance": prov}})
    assert report.main(["--root", str(root)]) == 0
    note = [line for line in (root / "README.md").read_text().splitlines() if line.startswith("From ")]
    assert note == [note[0]] and note[0].startswith(
        "From `benchmarks/results/serve_load.json`: `OMP_NUM_THREADS=1 python benchmarks/serve_load.py "
        "runs/default --requests 2000` on ")
    assert "load average 0.25 before, 1.50 after (1 min)" in note[0]


def time_to_accuracy_results(accs: list[float], seconds: list[float]) -> dict:
    """A time_to_accuracy.json with one recipe (default) over seeds and one peer, its summary deliberately wrong."""
    runs = [{"preset": "default", "seed": i, "model": "tvnet-digits", "epochs": 5, "test_acc": acc,
             "train_seconds": t, "wall_seconds": t + 20, "calibration": {"temperature": 0.5, "ece_before": 0.04,
                                                                         "ece_after": 0.005}, "test_ece": 0.006}
            for i, (acc, t) in enumerate(zip(accs, seconds))]
    wrong = {"test_acc_mean": 0.5, "test_acc_std": 0.5, "train_seconds_median": 1.0, "wall_seconds_median": 1.0}
    peer = {"recipe": {"model": "tutorial CNN A"}, "seed": 0, "epochs": [{"seconds": 40.0, "val_acc": 0.98}] * 10,
            "test_acc": 0.9915, "train_seconds": 400.0, "runner": {"wall_seconds": 441.0}}
    return {"tinyvision": {"default": {"summary": wrong, "runs": runs}},
            "peers": {"tutorial-recipe-a": peer, "keras-mnist-convnet": {"skipped": "keras is not installed"}}}


def test_seed_statistics_come_from_the_per_seed_rows_not_the_summary(tmp_path):
    data = time_to_accuracy_results([0.9951, 0.9956, 0.9960], [50.0, 52.0, 60.0])
    readme = (block("time-to-accuracy") + block("time-to-accuracy-speedups")
              + "Default: <!-- value:default-mnist-acc -->?<!-- /value --> over "
                "<!-- value:default-mnist-seeds -->?<!-- /value --> seeds.\n")
    root = make_repo(tmp_path, readme, results={"time_to_accuracy.json": data})
    assert report.main(["--root", str(root)]) == 0
    text = (root / "README.md").read_text()
    # mean 99.5567; sample sd 0.0451 -> 0.05; median training 52.0 s, whole command 72.0 s
    assert "| `tvnet-digits`, 5 epochs | 3 | 99.56 ± 0.05% | 52.0 s | 72.0 s |" in text
    assert "Default: <!-- value:default-mnist-acc -->99.56 ± 0.05%<!-- /value --> over " in text
    assert "<!-- value:default-mnist-seeds -->3<!-- /value --> seeds." in text
    assert "not run: keras is not installed" in text
    # like with like: the peer's 400 s of training against our 52 s, its 441 s command against our 72 s
    assert ("| 99.15% | `tinyvision train` (default): 99.56% mean | 400.0 s / 52.0 s | 7.7x "
            "| 441.0 s / 72.0 s | 6.1x |") in text
    assert "50.00%" not in text
    assert report.main(["--check", "--root", str(root)]) == 0


def test_no_speed_up_is_claimed_when_no_recipe_reaches_the_peer(tmp_path):
    data = time_to_accuracy_results([0.9901, 0.9905], [10.0, 11.0])
    root = make_repo(tmp_path, block("time-to-accuracy-speedups"), results={"time_to_accuracy.json": data})
    assert report.main(["--root", str(root)]) == 0
    assert "none of our recipes' means reaches it" in (root / "README.md").read_text()


def test_results_in_an_older_format_are_refused_with_the_command_to_rerun(tmp_path, capsys):
    old = {"reference_recipe_a": {"epochs_run": 1}, "tinyvision": {"default": {"runs": [{"final_test_acc": 0.99}]}}}
    root = make_repo(tmp_path, block("time-to-accuracy"), results={"time_to_accuracy.json": old})
    assert report.main(["--check", "--root", str(root)]) == 1
    err = capsys.readouterr().err
    assert "older version of its script" in err and "python benchmarks/time_to_accuracy.py" in err


def test_a_file_of_trials_names_each_trial_s_provenance(tmp_path):
    with provenance.recorded() as prov:
        pass
    trials = [{"trial": f"t{i}", "options": {"model": "tvnet", "epochs": 12}, "seed": 0, "parameters": 38458,
               "val_acc": 0.93 + i / 1000, "train_seconds": 600.0, "train_cpu_seconds": 500.0, "cpu_share": 0.8,
               "provenance": {**prov, "command": f"python benchmarks/recipes.py fashion-mnist --trials t{i}"}}
              for i in range(2)]
    results = {"recipes/fashion-mnist-trials.json": {"dataset": "fashion-mnist", "trials": trials}}
    root = make_repo(tmp_path, block("recipe-trials-fashion-mnist"), results=results)
    assert report.main(["--root", str(root)]) == 0
    text = (root / "README.md").read_text()
    assert "**93.10%**" in text and "| 93.00% |" in text  # the best validation accuracy in bold
    assert "2 runs on " in text and "`python benchmarks/recipes.py fashion-mnist --trials t0`" in text


def test_every_registered_table_renders_from_the_repository_results():
    rendered = 0
    for name, spec in report.TABLES.items():
        if all((REPO / report.RESULTS / s).is_file() for s in spec.sources):
            text = report.render(name, REPO)
            assert text.startswith("| ") and "\nFrom `benchmarks/results/" in text, name
            rendered += 1
    assert rendered >= 10


def test_repository_docs_match_their_results():
    """CI fails when a table in README.md or docs/ differs from its results JSON: run report.py to fix."""
    done = subprocess.run([sys.executable, str(BENCHMARKS / "report.py"), "--check"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_figures_compared_as_one_model_must_have_the_same_recorded_weights():
    same = {"run": "/tmp/r", "weights_sha256": "aa"}
    report.same_model("pair", "run", same, dict(same))
    report.same_model("pair", "run", {"run": "/tmp/r"}, {"run": "/tmp/r"})  # results from before digests
    retrained = {"run": "/tmp/r", "weights_sha256": "bb"}
    for other in (retrained, {"run": "/tmp/r"}, {"run": "/tmp/s", "weights_sha256": "aa"}):
        with pytest.raises(report.ReportError):
            report.same_model("pair", "run", same, other)


def test_results_file_is_written_whole_with_nothing_left_beside_it(tmp_path):
    path = tmp_path / "results" / "x.json"
    provenance.write_results(path, {"a": 1})
    provenance.write_results(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert os.listdir(path.parent) == ["x.json"]


def test_provenance_records_the_command_code_machine_and_load():
    with provenance.recorded() as prov:
        pass
    for key in ("command", "git_commit", "git_dirty", "tinyvision", "torch", "torch_threads", "cpu_model",
                "cpu_count", "device", "start_time", "end_time", "load_average_before", "load_average_after"):
        assert key in prov, key
    assert provenance.command_line(["/x/bin/python3", "-m", "pytest", "a b"]).endswith("python -m pytest 'a b'")


def test_peer_helpers_parse_idx_and_collect_points():
    images = bytes([0, 0, 8, 3]) + (2).to_bytes(4, "big") + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    array = mnist_files.parse_idx(images + bytes(range(12)))
    assert array.shape == (2, 2, 3) and array[1, 1, 2] == 11
    with pytest.raises(ValueError):
        mnist_files.parse_idx(images + bytes(5))

    result = {"epochs": [{"seconds": 2.0, "val_acc": 0.9}, {"seconds": 3.0, "val_acc": 0.95}],
              "train_seconds": 5.0, "wall_seconds": 9.0, "test_acc": 0.96, "runner": {"wall_seconds": 9.5}}
    points = peers.accuracy_points(result)
    assert points["validation"] == [(2.0, 0.9), (5.0, 0.95)]
    assert points["test"] == {"train_seconds": 5.0, "wall_seconds": 9.5, "test_acc": 0.96}
    with pytest.raises(KeyError):
        peers.peer_command("no-such-peer")


def test_provenance_names_changed_files_whole(tmp_path, monkeypatch):
    """A results file names the files that differed from its commit: a file modified in the work tree
    (porcelain "XY path" with X a space) keeps its first letter."""
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    git("init", "-q")
    (tmp_path / "benchmarks.json").write_text("{}")
    git("add", "benchmarks.json")
    git("commit", "-qm", "one")
    (tmp_path / "benchmarks.json").write_text('{"changed": 1}')
    (tmp_path / "new.txt").write_text("x")
    monkeypatch.setattr(provenance, "REPO_ROOT", tmp_path)
    state = provenance.git_state()
    assert state["git_dirty"] and len(state["git_commit"]) == 40
    assert sorted(state["git_changed_files"]) == ["benchmarks.json", "new.txt"]
