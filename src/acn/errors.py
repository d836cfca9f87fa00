"""User-facing errors.

Anything a user can cause (bad option, missing file, wrong shapes, NaN loss) raises
:class:`ACNError` with a one-line message naming the problem. The command line turns it
into ``acn: error: <message>`` and exit code 2, never a traceback.
"""

from __future__ import annotations


class ACNError(Exception):
    """A problem with the user's input, reported in one line."""


class ConfigError(ACNError):
    """Unknown model, option or value."""


class DataError(ACNError):
    """Missing, unreadable, corrupt or ill-fitting data."""


class CheckpointError(ACNError):
    """Missing, corrupt or truncated checkpoint."""


class TrainingDivergedError(ACNError):
    """The loss became NaN or infinite."""
