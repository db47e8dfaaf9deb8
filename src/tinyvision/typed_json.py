"""Values read from JSON a file holds, taken as they are written, never coerced.

A model card, an export's sidecar and a run folder's files are read from disk,
where anyone may have edited them: `"flip": "false"` must not become True, nor
a string of class names a list of letters, nor a bool a number.
"""

from __future__ import annotations


def is_int(value) -> bool:
    """An integer, not a bool (JSON's true is Python's True, an int)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    """An integer or a float, not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def typed(value, kind: type, what: str):
    """`value` if JSON gave it the type `kind` (an integer passes for a float, a bool for neither);
    else ValueError naming `what`."""
    ok = {int: is_int, float: is_number}.get(kind, lambda v: isinstance(v, kind))(value)
    if not ok:
        raise ValueError(f"{what}: {kind.__name__} expected, got {type(value).__name__}")
    return float(value) if kind is float else value
