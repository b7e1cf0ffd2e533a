"""User-facing error types.

Every mistake a user can make (bad config, bad file, wrong shapes, NaN in data,
impossible option combinations) raises a subclass of `StablesimError`; the
command line prints its message on one line and exits non-zero.
"""


class StablesimError(Exception):
    """Base class of the errors whose message is meant for the user."""


class ConfigError(StablesimError, ValueError):
    """An option, or a combination of options, is invalid."""


class DataError(StablesimError, ValueError):
    """A dataset is missing, malformed, or does not fit what is asked of it."""


class TrainingError(StablesimError, RuntimeError):
    """Training cannot go on (for example too many skipped updates in a row)."""
