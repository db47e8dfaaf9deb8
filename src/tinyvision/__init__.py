"""tinyvision: train, compare, explain and serve small image classifiers.

    import tinyvision
    run = tinyvision.train(dataset="mnist", preset="fast")   # a Run: .path .metrics .history .model .plot()
    model = tinyvision.load(run.path)                        # a run folder, model.safetensors or model.onnx
    model.predict("digit.png").label                         # a path, bytes, PIL image, array or tensor

Also `tinyvision.compare(...)`, `tinyvision.datasets.load(name)`,
`tinyvision.models()` and `tinyvision.presets()`. Importing tinyvision is
cheap: torch loads when a function first needs it.
"""

from __future__ import annotations

import importlib

# typing's flag, without importing typing (and no other module here): `python -m tinyvision` runs this file
# before any code that can answer a Ctrl-C, and its imports (typing, re: 10 to 40 ms) were a window in which
# one was a KeyboardInterrupt traceback. The command line's entry (`__main__`) takes over from here.
TYPE_CHECKING = False

__version__ = "0.2.0"

# name -> (module, attribute): loaded on first use, so `import tinyvision` (and the CLI) stays light.
_LAZY = {
    "TinyVisionError": ("tinyvision.errors", "TinyVisionError"),
    "train": ("tinyvision.run", "train"),
    "Run": ("tinyvision.run", "Run"),
    "load": ("tinyvision.classifier", "load"),
    "Model": ("tinyvision.classifier", "Model"),
    "Prediction": ("tinyvision.classifier", "Prediction"),
    "compare": ("tinyvision.compare", "compare"),
    "Comparison": ("tinyvision.compare", "Comparison"),
    "Interrupted": ("tinyvision.training.loop", "Interrupted"),
    "RunConfig": ("tinyvision.config", "RunConfig"),
    "ImageError": ("tinyvision.image.decode", "ImageError"),
    "NothingToExplain": ("tinyvision.classifier", "NothingToExplain"),
    "UnfinishedRunWarning": ("tinyvision.errors", "UnfinishedRunWarning"),
}

if TYPE_CHECKING:
    from typing import Any

    from tinyvision.classifier import Model, NothingToExplain, Prediction, load
    from tinyvision.compare import Comparison, compare
    from tinyvision.config import RunConfig
    from tinyvision.errors import TinyVisionError, UnfinishedRunWarning
    from tinyvision.image.decode import ImageError
    from tinyvision.run import Run, train
    from tinyvision.training.loop import Interrupted


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    if name in ("datasets", "models"):  # (tinyvision.models is the model registry, and callable: see there)
        return importlib.import_module(f"tinyvision.{name}")
    raise AttributeError(f"module 'tinyvision' has no attribute {name!r}")


def presets() -> dict[str, dict]:
    """Named recipes (`tinyvision.train(preset=...)`) and the options each sets."""
    from tinyvision.config import PRESETS

    return {name: dict(values) for name, values in PRESETS.items()}


__all__ = [
    "Comparison", "ImageError", "Interrupted", "Model", "NothingToExplain", "Prediction", "Run", "RunConfig",
    "TinyVisionError", "UnfinishedRunWarning", "__version__", "compare", "datasets", "load", "models", "presets",
    "train",
]
