"""What every handler needs, built once per app: settings, store, services; and the request
plumbing shared by the routes (auth, API version, JSON bodies, pagination, ETags).
Imports ``config``, ``errors``, ``models``, ``keys``, ``service``, ``store``, ``api.schemas``,
``api.errors``.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

import anyio
import anyio.to_thread
from fastapi import Path, Request
from pydantic import BaseModel, ValidationError
from pydantic_core import to_json
from starlette.responses import Response

from qualevents.api.errors import from_pydantic
from qualevents.config import Settings
from qualevents.errors import (
    ErrorItem,
    Forbidden,
    InvalidRequest,
    PayloadTooLarge,
    PreconditionFailed,
    UnsupportedApiVersion,
    UnsupportedMediaType,
)
from qualevents.keys import KeyService
from qualevents.models import ApiKey
from qualevents.ratelimit import RateLimiter
from qualevents.reviews import ReviewService
from qualevents.service import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, QualifyingEventService
from qualevents.store.base import Actor, Store

API_VERSIONS = ("20240601",)
_WHOLE_NUMBER = re.compile(r"[0-9]+(\.0*)?")
MAX_PAGE_NUMBER = 1_000_000_000
# Revision numbers and change request ids are 32-bit integer columns; a larger number in
# the path overflowed the driver's integer conversion (a 500, found by the fuzzer).
MAX_ROW_NUMBER = 2**31 - 1
RowNumber = Annotated[int, Path(ge=1, le=MAX_ROW_NUMBER)]
API_KEY_HEADER = "STATSIG-API-KEY"

BodyT = TypeVar("BodyT", bound=BaseModel)
T = TypeVar("T")


@dataclass
class AppContext:
    settings: Settings
    store: Store
    events: QualifyingEventService
    keys: KeyService
    reviews: ReviewService
    rate_limiter: RateLimiter
    warehouse: Any = None
    validator: Any = None
    extras: dict[str, Any] = field(default_factory=dict)


async def blocking(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking work (store, warehouse) in the thread pool. The request's deadline may
    abandon the wait; the thread then finishes on its own and its result is dropped."""
    return await anyio.to_thread.run_sync(
        functools.partial(function, *args, **kwargs), abandon_on_cancel=True
    )


async def reading(request: Request, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a read-only use case in the thread pool."""
    return await blocking(function, *args, **kwargs)


async def writing(request: Request, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a use case that writes in the thread pool; on the warehouse's validation threads
    when its validation asks the warehouse."""
    return await validating(request, function, *args, **kwargs)


async def validating(request: Request, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a use case that validates but is not one of ``writing``'s (restore, approving a
    change request): on the warehouse's validation threads when it asks the warehouse,
    else in the pool."""
    if getattr(context_of(request).validator, "runner", None) is not None:
        return await on_warehouse(request, function, *args, lane="checks", **kwargs)
    return await blocking(function, *args, **kwargs)


async def on_warehouse(
    request: Request, function: Callable[..., T], *args: Any, lane: str = "rows", **kwargs: Any
) -> T:
    """Run warehouse work on the validator's runner (``warehouse.executor``) in ``lane``:
    ``rows`` (preview, daily) is counted against the calling key (``authenticate`` ran
    first), 429 beyond its limit; ``checks`` is validation."""
    runner = context_of(request).validator.runner
    key = getattr(request.state, "key", None)
    return await runner.run(getattr(key, "id", None), function, *args, lane=lane, **kwargs)


def context_of(request: Request) -> AppContext:
    return request.app.state.context


def authenticate(request: Request, *, write: bool = False) -> ApiKey:
    """The calling key; 401 when unknown, then 400 for an unsupported API version (so that a
    caller without a key learns nothing else), 429 when rate limited, 403 when a read-only
    key asks to write."""
    context = context_of(request)
    key = context.keys.authenticate(request.headers.get(API_KEY_HEADER), fresh=write)
    check_api_version(request)
    if context.rate_limiter.enabled:
        context.rate_limiter.check(key.id)
    if write and not key.can_write:
        raise Forbidden(
            "This key is read-only; mutations need a full-access console key",
            [ErrorItem((API_KEY_HEADER,), "Read-only key used for a mutation")],
        )
    request.state.key = key
    return key


def actor_of(key: ApiKey) -> Actor:
    return Actor(key_id=key.id, key_name=key.name)


def wants_review(request: Request) -> bool:
    """Whether the mutation asks to respect the project's review settings."""
    value = request.headers.get("x-respect-review-settings", "")
    return value.strip().lower() in ("true", "1", "yes")


def check_api_version(request: Request) -> None:
    version = request.headers.get("statsig-api-version")
    if version is not None and version.strip() not in API_VERSIONS:
        raise UnsupportedApiVersion(
            f"Unsupported STATSIG-API-VERSION {version!r}; supported: {', '.join(API_VERSIONS)}",
            [ErrorItem(("STATSIG-API-VERSION",), f"Expected one of: {', '.join(API_VERSIONS)}")],
        )


async def read_body(request: Request, model: type[BodyT]) -> BodyT:
    """The request body parsed strictly into ``model``; 413, 415 or 400 otherwise."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type and media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(
            f"Request body must be JSON; got Content-Type {media_type!r}",
            [ErrorItem(("Content-Type",), "Send Content-Type: application/json")],
        )
    limit = context_of(request).settings.max_body_bytes
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body exceeds {limit} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise InvalidRequest(
            "Request body is empty; expected a JSON object",
            [ErrorItem((), "Expected a JSON object")],
        )
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise from_pydantic(exc) from None


def page_params(limit: str | None, page: str | None) -> tuple[int, int]:
    """Statsig's ``limit``/``page`` (numbers, possibly sent as strings), checked; a limit
    above the maximum is clamped to it."""
    problems = []
    parsed = {}
    for name, raw, default in (("limit", limit, DEFAULT_PAGE_SIZE), ("page", page, 1)):
        if raw is None or raw == "":
            parsed[name] = default
            continue
        # Whole numbers, possibly written as 2.0 (Statsig's spec types them as numbers).
        number = float(raw) if _WHOLE_NUMBER.fullmatch(raw.strip()) else math.nan
        if not math.isfinite(number) or number < 1:
            problems.append(ErrorItem((name,), f"Must be a whole number >= 1; got {raw!r}"))
            continue
        if name == "page" and number > MAX_PAGE_NUMBER:
            # Beyond this the row offset overflows the databases' 64-bit integers (a 500).
            problems.append(ErrorItem((name,), f"Must be at most {MAX_PAGE_NUMBER}; got {raw!r}"))
            continue
        parsed[name] = int(number)
    if problems:
        raise InvalidRequest(errors=problems)
    return min(parsed["limit"], MAX_PAGE_SIZE), parsed["page"]


def pagination(
    path: str, page: int, limit: int, total: int, filters: dict[str, str] | None = None
) -> dict[str, Any]:
    """Statsig's pagination object, with links a client can follow as they are (keeping
    any filters of the request)."""
    last_page = max(1, math.ceil(total / limit))
    kept = {k: v for k, v in (filters or {}).items() if k not in ("page", "limit")}

    def link(number: int) -> str:
        return f"{path}?{urlencode({**kept, 'page': number, 'limit': limit})}"

    return {
        "itemsPerPage": limit,
        "pageNumber": page,
        "totalItems": total,
        "nextPage": link(page + 1) if page < last_page else None,
        "previousPage": link(min(page - 1, last_page)) if page > 1 else None,
        "all": f"{path}?{urlencode(kept)}" if kept else path,
    }


def etag(revision: int) -> str:
    return f'"{revision}"'


def expected_revision(request: Request) -> int | None:
    """The revision an ``If-Match`` header asks for (None without one, or for ``*``)."""
    header = request.headers.get("if-match")
    if header is None or header.strip() == "*":
        return None
    value = header.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise PreconditionFailed(
            f"If-Match {header!r} is not an ETag this server issued",
            [ErrorItem(("If-Match",), 'Expected an ETag such as "3" from a previous response')],
        )
    return int(value)


def encode_json(body: dict[str, Any]) -> bytes:
    # pydantic-core writes the same bytes as json.dumps(ensure_ascii=False, compact) for
    # our bodies (str, int, bool, None, lists, dicts), faster (docs/benchmarks.md).
    return to_json(body)


def encoded_json_response(
    encoded: bytes, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(encoded, status_code=status, media_type="application/json", headers=headers)


def json_response(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return encoded_json_response(encode_json(body), status, headers)
