"""tinyvision: train, compare, explain and serve small image classifiers."""

from tinyvision.errors import TinyVisionError

__version__ = "0.1.0"
__all__ = ["TinyVisionError", "__version__"]
