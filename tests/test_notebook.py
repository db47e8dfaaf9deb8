"""The example notebook runs top to bottom in a real Jupyter kernel (nbclient), on a small budget."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import numpy as np
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).parents[1] / "examples" / "mlp_vs_cnn.ipynb"


def test_mlp_vs_cnn_notebook_runs_and_shows_its_figures(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYVISION_NOTEBOOK_SMALL", "1")  # a few dozen steps per model, not the full recipes
    monkeypatch.setenv("TINYVISION_DATA", str(tmp_path / "cache"))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}},
                   env=dict(os.environ)).execute()

    cells = [c for c in notebook.cells if c.cell_type == "code"]
    errors = [o for c in cells for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    figures = sum("image/png" in o.get("data", {}) for c in cells for o in c.outputs)
    assert figures >= 5  # samples, curves, confusion, mistakes, the drawn digit
    text = "".join(o.get("text", "") for c in cells for o in c.outputs if o.output_type == "stream")
    assert "test accuracy" in text and "prediction:" in text
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "runs").iterdir()) == ["mlp", "tvnet"]


def run_cells(sources: list[str], tmp_path: Path) -> list:
    """Execute code cells in a fresh Jupyter kernel (no pyplot, no %matplotlib): each cell's outputs."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}},
                   env=dict(os.environ)).execute()
    return [cell.outputs for cell in notebook.cells]


def test_figures_tables_and_explanations_show_as_a_learner_expects(tiny_dataset, tmp_path):
    # A learner's first cells: `run.plot()` must draw inline though pyplot was never imported (a plain
    # Figure showed as the text '<Figure size 1100x400 with 2 Axes>'); `comparison.table()` renders as a
    # table, not a quoted string; an Explanation prints in a line, not 25,000 characters of tensors.
    from tinyvision.cli import main
    from tinyvision.datasets import load_dataset

    out = tmp_path / "cmp"
    assert main(["compare", "--dataset", tiny_dataset, "--models", "mlp,tvnet", "--epochs", "1",
                 "--out", str(out), "--progress", "lines"]) == 0
    image = tmp_path / "image.npy"
    np.save(image, load_dataset(tiny_dataset).test_images[0, 0].numpy())
    plot, shown_here, explanation, figure, table = run_cells([
        f"import numpy as np, tinyvision\nrun = tinyvision.Run({str(out / 'tvnet')!r})\nrun.plot()",
        "fig = run.plot('confusion')\nfig.show()\nprint('after')",  # drawn where it is called, once
        f"e = tinyvision.load(run.path).explain(np.load({str(image)!r}))\ne",
        "e.figure()",
        f"import json\nfrom pathlib import Path\nfrom tinyvision.compare import Comparison\n"
        f"out = Path({str(out)!r})\nComparison(out, json.loads((out / 'report.json').read_text())).table()",
    ], tmp_path)
    assert any("image/png" in o.get("data", {}) for o in plot), plot
    assert any("image/png" in o.get("data", {}) for o in figure), figure
    assert [o.get("output_type") for o in shown_here] == ["display_data", "stream"], shown_here
    shown = [o["data"]["text/plain"] for o in explanation if "text/plain" in o.get("data", {})]
    assert shown and shown[0].startswith("Explanation(") and len(shown[0]) < 200, shown
    assert any("| tvnet |" in o.get("data", {}).get("text/markdown", "") for o in table), table
