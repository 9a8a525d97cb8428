"""Errors the bundle raises on purpose; ``reliable_etl.retry`` decides which are worth a retry."""


class BadInputError(ValueError):
    """Input that cannot be loaded as delivered. Permanent: retrying cannot help.

    The message names the file and, where known, the line and the field.
    """


class UnitBusyError(RuntimeError):
    """Another session holds the advisory lock of the unit we want to write. Transient."""


class ConfigurationError(BadInputError):
    """A setting or Connection that is missing or wrong. Permanent: a person must fix it first."""


class AuditFailedError(BadInputError):
    """An error-severity check of a gold unit failed: nothing of the unit was published.

    Permanent for this input (retrying computes the same rows); ``results`` holds every check's
    verdict of the attempt, for the record.
    """

    def __init__(self, message: str, results: list) -> None:
        super().__init__(message)
        self.results = results
