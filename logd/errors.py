"""Domain errors, named after CloudWatch Logs' error types. No HTTP here.

The tree::

    LogdError
    ├── InvalidParameterException
    ├── ResourceNotFoundException
    ├── ResourceAlreadyExistsException
    ├── LimitExceededException
    ├── OperationAbortedException
    ├── InvalidOperationException
    ├── MalformedQueryException
    ├── TooManyTagsException
    ├── ValidationException
    ├── AccessDeniedException
    ├── ThrottlingException
    ├── ServiceUnavailableException
    ├── UnrecognizedClientException
    ├── SerializationException
    ├── UnknownOperationException
    ├── MissingAuthenticationTokenException
    ├── IncompleteSignatureException
    ├── InvalidSignatureException
    └── DataDirectoryLocked          (not a wire error: a second process on one data dir)

The class name is the wire ``__type``; ``logd/api/errors.py`` alone maps a class to its
HTTP status.  ``extra`` carries the additional members some errors have on the wire
(``queryCompileError``, ``resourceName``, ...).
"""

from __future__ import annotations

from typing import Any


class LogdError(Exception):
    """Base of every error logd reports to a client."""

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra: dict[str, Any] = extra

    @property
    def type_name(self) -> str:
        return type(self).__name__


class InvalidParameterException(LogdError):
    pass


class ResourceNotFoundException(LogdError):
    pass


class ResourceAlreadyExistsException(LogdError):
    pass


class LimitExceededException(LogdError):
    pass


class OperationAbortedException(LogdError):
    pass


class InvalidOperationException(LogdError):
    pass


class MalformedQueryException(LogdError):
    pass


class TooManyTagsException(LogdError):
    pass


class ValidationException(LogdError):
    pass


class AccessDeniedException(LogdError):
    pass


class ThrottlingException(LogdError):
    pass


class ServiceUnavailableException(LogdError):
    pass


class UnrecognizedClientException(LogdError):
    pass


class SerializationException(LogdError):
    pass


class UnknownOperationException(LogdError):
    pass


class MissingAuthenticationTokenException(LogdError):
    pass


class IncompleteSignatureException(LogdError):
    pass


class InvalidSignatureException(LogdError):
    pass


class DataDirectoryLocked(LogdError):
    """Another process holds the data directory's lock file."""
