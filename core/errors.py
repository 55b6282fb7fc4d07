"""The error taxonomy, organised by how a caller should react.

- ``ConfigError``: the user must change a setting or an input; retrying will not help.
- ``DataError``: input data is malformed; the message names the file and row.
- ``NotFoundError``: the thing asked for does not exist (yet); the message says how to get it.
- ``UnavailableError``: a dependency (network, exchange, service) cannot be reached;
  retrying later may help.
- ``StaleDataError``: data exists but is too old to act on.
- ``ThrottledError``: a rate limit was hit; back off and retry.
- ``RejectedError``: a venue definitely refused a request; do not retry unchanged.
- ``AmbiguousOutcomeError``: we do not know whether a request took effect; resolve by
  querying, never by blindly re-sending.

Each class carries an ``exit_code`` (what the CLI exits with) and a ``code``, a stable
string that machine-readable error output (``--json``, the API) reports. An error may
carry a ``hint``: how to fix it, when the message alone does not say.
"""

from __future__ import annotations


class TillerError(Exception):
    """Base class of every error Tiller raises on purpose."""

    exit_code: int = 1
    code: str = "error"

    def __init__(self, *args: object, hint: str | None = None) -> None:
        super().__init__(*args)
        self.hint = hint


class ConfigError(TillerError):
    """A setting or argument is invalid; the message says how to fix it."""

    exit_code = 2
    code = "config_error"


class DataError(TillerError):
    """Input data is malformed or inconsistent."""

    exit_code = 3
    code = "data_error"


class NotFoundError(TillerError):
    """A symbol, timeframe, file or record does not exist."""

    exit_code = 4
    code = "not_found"


class UnavailableError(TillerError):
    """A dependency is unreachable (offline, exchange down, service absent)."""

    exit_code = 5
    code = "unavailable"


class StaleDataError(TillerError):
    """Data is too old to act on."""

    exit_code = 6
    code = "stale_data"


class ThrottledError(UnavailableError):
    """A rate limit was hit."""

    code = "throttled"


class RejectedError(TillerError):
    """A venue definitely refused the request."""

    exit_code = 7
    code = "rejected"


class AmbiguousOutcomeError(TillerError):
    """The outcome of a request is unknown; query before doing anything else."""

    exit_code = 8
    code = "ambiguous_outcome"


class InvalidValueError(ConfigError, ValueError):
    """A value given by the user is malformed (a symbol, a timeframe, a number). It is a
    ``ValueError`` too, so validators (pydantic) and callers that catch ``ValueError`` keep
    working, and a ``ConfigError`` so the CLI reports it in one line with exit code 2."""


# Codes of errors whose class does not name one (subclasses of TillerError declared
# elsewhere with their own exit code, e.g. the audit chain's and the reconciliation's).
_CODE_BY_EXIT = {
    2: "config_error",
    3: "data_error",
    4: "not_found",
    5: "unavailable",
    6: "stale_data",
    7: "rejected",
    8: "ambiguous_outcome",
    9: "audit_broken",
    10: "not_reconciled",
}


def error_code(exc: TillerError) -> str:
    """The stable string naming an error's kind in machine-readable output (the CLI's
    ``--json``, the API's problem documents): the nearest class that declares a code for
    the error's own exit code, else the code of that exit code."""
    for klass in type(exc).__mro__:
        if "code" in vars(klass):
            if getattr(klass, "exit_code", None) == exc.exit_code:
                return str(vars(klass)["code"])
            break
    return _CODE_BY_EXIT.get(exc.exit_code, "error")
