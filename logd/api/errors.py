"""THE exception → wire table: ``__type`` and HTTP status, looked up by MRO.

Only this module knows statuses. Handlers raise `logd.errors.*`; the server calls
`to_wire` once per failed request. A class not in the table inherits its nearest
ancestor's entry (starlette's ``_lookup_exception_handler`` walk), so a new subclass of
`InvalidParameterException` needs no entry. Anything that is not a `LogdError` is a bug
and becomes ``InternalFailure`` 500 with a generic message (details go to the log, not
the client).
"""

from __future__ import annotations

from typing import Any

from logd import errors

#: status by error class; the wire ``__type`` is the class name (LogdError.type_name).
STATUS: dict[type[BaseException], int] = {
    errors.LogdError: 400,
    errors.MissingAuthenticationTokenException: 403,
    errors.IncompleteSignatureException: 403,
    errors.InvalidSignatureException: 403,
    errors.ServiceUnavailableException: 500,
    errors.DataDirectoryLocked: 500,
}

INTERNAL_FAILURE = ("InternalFailure", 500)


def status_of(exc: BaseException) -> int:
    for cls in type(exc).__mro__:
        status = STATUS.get(cls)
        if status is not None:
            return status
    return INTERNAL_FAILURE[1]


def to_wire(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) for an exception raised while serving a request."""
    if isinstance(exc, errors.DataDirectoryLocked):
        return 500, {"__type": "ServiceUnavailableException", "message": exc.message}
    if isinstance(exc, errors.LogdError):
        body: dict[str, Any] = {"__type": exc.type_name, "message": exc.message}
        body.update(exc.extra)
        return status_of(exc), body
    return INTERNAL_FAILURE[1], {"__type": INTERNAL_FAILURE[0], "message": "Internal failure."}
