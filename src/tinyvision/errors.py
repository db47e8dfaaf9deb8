"""The one exception type for mistakes a user can make (bad file, bad flag).

The CLI catches it once and prints a single line; anything else is a bug and
keeps its traceback.
"""


class TinyVisionError(Exception):
    """A problem with the user's input, reported as one line with exit code 2."""


class UnfinishedRunWarning(UserWarning):
    """A model loaded from a run that stopped before its end: uncalibrated, and it never abstains.
    The CLI prints it as one line (`tinyvision: warning: ...`)."""
