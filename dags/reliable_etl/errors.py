"""Errors the bundle raises on purpose; ``reliable_etl.retry`` decides which are worth a retry."""


class BadInputError(ValueError):
    """Input that cannot be loaded as delivered. Permanent: retrying cannot help.

    The message names the file and, where known, the line and the field.
    """


class UnitBusyError(RuntimeError):
    """Another session holds the advisory lock of the unit we want to write. Transient."""


class ConfigurationError(BadInputError):
    """A setting or Connection that is missing or wrong. Permanent: a person must fix it first."""
