"""The project's own error types.

Every error a user can cause by bad input is a `HwnasError`; the CLI prints its message as one
line and exits with `exit_code` (2 = bad usage or input, 1 = a failure while working).
"""


class HwnasError(Exception):
    """Base class: a one-line, actionable message for a person."""

    exit_code = 1


class BadInputError(HwnasError):
    """The user gave something malformed or out of range."""

    exit_code = 2


class ArchParseError(BadInputError):
    """An architecture string that is not a valid cell of its space."""


class DataError(HwnasError):
    """A data file is missing, truncated or not of the expected schema."""

    exit_code = 2


class DeviceError(BadInputError):
    """An unknown device or a device description that cannot be used."""


class BudgetError(BadInputError):
    """A latency budget that no architecture (or every architecture) meets."""


class RunError(HwnasError):
    """A run directory that cannot be resumed as asked (corrupt log, different config)."""

    exit_code = 2
