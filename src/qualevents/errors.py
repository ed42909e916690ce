"""The one exception hierarchy of qualevents. Imports nothing from the package.

Every error a user can see is one of these; each class carries the HTTP ``status`` the API
answers with, and a list of :class:`ErrorItem` (Statsig's ``errors[]``: ``property`` and
``errorMessage``, plus optional extras such as SQL ``line`` and ``column``). Foreign
exceptions (sqlite3, psycopg, duckdb, sqlglot) are translated where they enter: in the
store, the warehouse adapters and ``sql/``; nothing above them sees one.

    QualeventsError (500)
    ├── InvalidRequest (400)
    │   ├── ValidationFailed (400)          field-level problems, all at once
    │   ├── NameInUse (400)                 "Name is already in use"
    │   ├── SQLInvalid (400)                parse errors, read-only guard, bad references
    │   ├── FolderInvalid (400)             a config folder's files (each with file:line:column)
    │   └── UnsupportedApiVersion (400)
    ├── Unauthorized (401)                  missing, unknown or revoked key
    ├── Forbidden (403)                     key lacks the right (read-only key, read-only event)
    ├── NotFound (404)
    │   └── QualifyingEventNotFound (404)
    ├── MethodNotAllowed (405)
    ├── Conflict (409)                      the resource's state forbids it (a job done)
    │   └── Cancelled (409)                 the work was cancelled (an analysis job)
    ├── PreconditionFailed (412)            If-Match mismatch
    ├── RequestTimeout (408)                the client sent its body too slowly
    ├── PayloadTooLarge (413)
    ├── UnsupportedMediaType (415)
    ├── RateLimited (429)                   carries retry_after seconds
    │   └── WarehouseBusy (429)             too many warehouse requests (per key, or all)
    ├── WarehouseError (502)                the warehouse failed to answer a valid query
    │   ├── WarehouseUnavailable (502)      cannot connect / driver missing at run time
    │   └── WarehouseTimeout (504)          statement timeout hit
    ├── StoreUnavailable (503)              the definitions database cannot be reached
    └── ConfigurationError (500)            bad settings; raised at start, before serving
        └── PrivilegedWarehouseRole (500)   the warehouse role can do more than read
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class ErrorItem:
    """One entry of ``errors[]``: where (``loc``) and what.

    ``loc`` is a path of field names and list indexes in the domain's snake_case names,
    ``()`` for a request-level problem; the API renders it as Statsig's ``property``
    (``idTypeMapping[0].column``). ``extra`` adds keys such as ``line`` and ``column``.
    """

    loc: Loc
    message: str
    extra: dict[str, Any] = field(default_factory=dict)


class QualeventsError(Exception):
    status: int = 500
    default_message: str = "Internal server error"

    def __init__(
        self,
        message: str | None = None,
        errors: list[ErrorItem] | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.errors: list[ErrorItem] = list(errors or [])
        self.headers: dict[str, str] = dict(headers or {})
        super().__init__(self.message)

    def __str__(self) -> str:
        if not self.errors:
            return self.message
        details = "; ".join(
            f"{'.'.join(map(str, e.loc))}: {e.message}" if e.loc else e.message for e in self.errors
        )
        return f"{self.message}: {details}"


class InvalidRequest(QualeventsError):
    status = 400
    default_message = "Invalid request. Please check the request input and try again."


class ValidationFailed(InvalidRequest):
    default_message = "Bad Request Exception"


class NameInUse(InvalidRequest):
    default_message = "Name is already in use"


def name_in_use(name: str, noun: str = "qualifying event") -> NameInUse:
    return NameInUse(errors=[ErrorItem(("name",), f"A {noun} named {name!r} already exists")])


class SQLInvalid(InvalidRequest):
    default_message = "Bad Request Exception"


class FolderInvalid(InvalidRequest):
    """Problems in a config folder's files, all at once; each item's ``extra`` holds its
    ``file``, ``line`` and ``column`` (1-based)."""

    default_message = "The folder's files are invalid"

    def __str__(self) -> str:
        lines = [self.message + ":"]
        lines += [
            f"  {e.extra.get('file')}:{e.extra.get('line')}:{e.extra.get('column')}: {e.message}"
            for e in self.errors
        ]
        return "\n".join(lines)


class UnsupportedApiVersion(InvalidRequest):
    default_message = "Unsupported STATSIG-API-VERSION"


class Unauthorized(QualeventsError):
    status = 401
    default_message = (
        "This endpoint only accepts an active CONSOLE key, but an invalid key was sent."
    )


class Forbidden(QualeventsError):
    status = 403
    default_message = "This key is not allowed to perform this action."


class NotFound(QualeventsError):
    status = 404
    default_message = "Not found"


class QualifyingEventNotFound(NotFound):
    """No source of one kind (``noun``: "qualifying event", "metric source", ...) is named so."""

    def __init__(self, name: str, noun: str = "qualifying event") -> None:
        super().__init__(
            f"{noun[:1].upper()}{noun[1:]} not found: {name!r}",
            [ErrorItem(("name",), f"No {noun} is named {name!r}")],
        )
        self.name = name


class MethodNotAllowed(QualeventsError):
    status = 405
    default_message = "Method not allowed"


class Conflict(QualeventsError):
    status = 409
    default_message = "The request conflicts with the resource's current state"


class Cancelled(Conflict):
    """Work stopped because someone cancelled it (an analysis job and its query)."""

    default_message = "The job was cancelled"


class PreconditionFailed(QualeventsError):
    status = 412
    default_message = "Precondition failed"


def revision_mismatch(name: str, current: int, expected: int) -> PreconditionFailed:
    """The one 412 for an ``If-Match`` (or a change request's base) that is not the event's
    current revision."""
    return PreconditionFailed(
        f"Qualifying event {name!r} is at revision {current}, not {expected}: "
        "it changed since you read it",
        [ErrorItem(("If-Match",), f'If-Match does not match the current ETag "{current}"')],
    )


class RequestTimeout(QualeventsError):
    status = 408
    default_message = "The request body did not arrive in time"


class PayloadTooLarge(QualeventsError):
    status = 413
    default_message = "Request body too large"


class UnsupportedMediaType(QualeventsError):
    status = 415
    default_message = "Request body must be JSON (Content-Type: application/json)"


class RateLimited(QualeventsError):
    status = 429
    default_message = "Too many requests"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        retry_after = max(1, int(retry_after))
        super().__init__(
            message or f"Too many requests; retry after {retry_after} s",
            [ErrorItem((), f"Rate limit exceeded; retry after {retry_after} seconds")],
            headers={"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after


class WarehouseBusy(RateLimited):
    """Too many warehouse requests at once, from this key or from all; retry shortly."""

    def __init__(self, retry_after: int, message: str) -> None:
        super().__init__(retry_after, message)
        self.errors = [ErrorItem((), message)]


class WarehouseError(QualeventsError):
    status = 502
    default_message = "The warehouse could not run the query"


class WarehouseUnavailable(WarehouseError):
    default_message = "The warehouse cannot be reached"


class WarehouseTimeout(WarehouseError):
    status = 504
    default_message = "The warehouse query timed out"


class StoreUnavailable(QualeventsError):
    status = 503
    default_message = "The definitions store is unavailable; retry shortly"


class ConfigurationError(QualeventsError):
    status = 500
    default_message = "Invalid configuration"


class PrivilegedWarehouseRole(ConfigurationError):
    """The warehouse role can read server files, run programs or create objects."""


def did_you_mean(value: str, choices: list[str] | tuple[str, ...]) -> str:
    """A " Did you mean 'x'?" suffix when one of ``choices`` is close to ``value``."""
    import difflib

    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""
