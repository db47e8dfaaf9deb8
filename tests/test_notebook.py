"""The example notebook runs top to bottom in a real Jupyter kernel (nbclient), on a small budget."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
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
