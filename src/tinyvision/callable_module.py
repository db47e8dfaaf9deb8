"""A module that can be called: the package's functions named like its submodules.

`tinyvision.models()` and `tinyvision.compare(...)` are functions of the package
with a submodule of the same name, and a package's attribute and its
submodule share one slot: the first import of the submodule (loading a
model imports `tinyvision.models`; `from tinyvision.compare import
Comparison` imports that one) replaced the function with the module, and
calling it then failed with "'module' object is not callable". So the
module itself is what the name means, and calling it calls the function.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable


def make_callable(module_name: str, function: Callable) -> None:
    """Calling the module `module_name` calls `function` (its docstring becomes the call's help)."""

    class CallableModule(types.ModuleType):
        def __call__(self, *args, **kwargs):
            return function(*args, **kwargs)

    CallableModule.__call__.__doc__ = function.__doc__
    sys.modules[module_name].__class__ = CallableModule
