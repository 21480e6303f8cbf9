"""The domain exception tree. No HTTP here: ``web/errors.py`` maps each class to a status.

::

    PyomeroError
    ├── InvalidInput          a parameter, body or file from outside does not parse (400)
    │   └── BadFile           a file to import is unsupported, truncated or corrupt (400)
    ├── NotFound              no such object, or the caller may not read it (404)
    ├── NotLoggedIn           no valid session (403 "Not logged in")
    ├── LoginFailed           wrong credentials or a refused account (403)
    ├── SecurityViolation     the caller may read but not do this (403)
    ├── NotSupported          the operation does not exist for this type (405)
    ├── ValidationError       the request is well formed but breaks a rule of the model (400)
    ├── Conflict              a unique name already taken (400 on the API, exit 1 on the CLI)
    └── InstanceError         the instance directory is missing or broken (CLI only)
"""

from __future__ import annotations


class PyomeroError(Exception):
    """Base of every error pyomero raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidInput(PyomeroError):
    """Input from outside failed strict parsing; ``param`` names the offending parameter."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class BadFile(InvalidInput):
    """A file given to import cannot be read: unsupported format, truncated, corrupt."""


class NotFound(PyomeroError):
    pass


class NotLoggedIn(PyomeroError):
    def __init__(self, message: str = "Not logged in") -> None:
        super().__init__(message)


class LoginFailed(PyomeroError):
    pass


class SecurityViolation(PyomeroError):
    pass


class NotSupported(PyomeroError):
    pass


class ValidationError(PyomeroError):
    pass


class Conflict(PyomeroError):
    pass


class InstanceError(PyomeroError):
    pass
