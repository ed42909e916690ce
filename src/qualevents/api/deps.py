"""What every handler needs, built once per app (``AppContext``), and the dependencies the
routes declare: the calling key, the API version, ``If-Match``, the review header, a JSON
body's checks; plus the two ways blocking work leaves the event loop
(``AppContext.blocking`` for the store, ``warehouse_call`` for anything that may reach the
warehouse).
Imports ``config``, ``errors``, ``models``, ``keys``, ``ratelimit``, ``reviews``, ``service``,
``store``, ``wire``.

The key itself is checked before any of this by ``api.edge.KeyCheck``; the dependencies
here read the key it found and declare the header for the OpenAPI document.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request, Security
from fastapi.security import APIKeyHeader

from qualevents.config import Settings
from qualevents.errors import (
    ErrorItem,
    Forbidden,
    InvalidRequest,
    PreconditionFailed,
    UnsupportedApiVersion,
    UnsupportedMediaType,
)
from qualevents.keys import KeyService
from qualevents.models import ApiKey
from qualevents.ratelimit import RateLimiter
from qualevents.reviews import ReviewService
from qualevents.service import QualifyingEventService
from qualevents.store.base import Actor, Store
from qualevents.wire import API_KEY_HEADER, API_VERSIONS

T = TypeVar("T")
KEY_SCOPE = "qualevents.key"
# As many as Starlette's thread pool: a store call that waits (a lock, a slow disk) must not
# hold up the reads behind it.
WORKER_THREADS = 40


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
    # Metric sources: the same use cases on the store's metric-source kind, with their own
    # view of the one review queue (app.create_app sets both).
    metric_sources: Any = None
    metric_source_reviews: Any = None
    # Assignment sources, likewise (``context.assignment_sources.get(name).event`` is a
    # ``models.AssignmentSource``).
    assignment_sources: Any = None
    assignment_source_reviews: Any = None
    # The app's worker threads for blocking calls (the store): made on first use, shut
    # down by the lifespan (and made again if the app serves after that, as tests do).
    _threads: ThreadPoolExecutor | None = field(default=None, repr=False)

    @property
    def has_warehouse(self) -> bool:
        return getattr(self.validator, "warehouse", None) is not None

    async def blocking(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking work (the store) on the app's worker threads. The request's deadline
        may abandon the wait; the thread then finishes on its own and its result is dropped.
        (asyncio's executor: a hop costs about half of anyio's ``to_thread``.)"""
        if self._threads is None:
            self._threads = ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="qualevents")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._threads, functools.partial(function, *args, **kwargs)
        )

    def stop_threads(self) -> None:
        threads, self._threads = self._threads, None
        if threads is not None:
            threads.shutdown(wait=False)


async def warehouse_call(
    context: AppContext,
    function: Callable[..., T],
    *args: Any,
    key_id: str | None = None,
    lane: str = "checks",
    **kwargs: Any,
) -> T:
    """THE seam for every call of the API that may reach the warehouse (preview, daily, and
    the validation inside create/update/patch/dry runs, restores, approvals): with a
    warehouse, on the runner's threads (``warehouse.executor``), apart from the store's, in
    ``lane``: ``rows`` (preview, daily) counts against ``key_id``'s limit (429 beyond it),
    ``checks`` is validation. Without one (static validation still parses SQL) on the app's
    worker threads, off the event loop and under the request's deadline."""
    runner = getattr(context.validator, "runner", None)
    if runner is None:
        return await context.blocking(function, *args, **kwargs)
    return await runner.run(key_id, function, *args, lane=lane, **kwargs)


def context_of(request: Request) -> AppContext:
    return request.app.state.context


async def _context(request: Request) -> AppContext:
    return request.app.state.context


Context = Annotated[AppContext, Depends(_context)]

ApiVersion = Annotated[
    str | None,
    Header(
        alias="STATSIG-API-VERSION",
        description=f"Optional; supported: {', '.join(API_VERSIONS)}",
    ),
]


class _ConsoleKey(APIKeyHeader):
    """The ``STATSIG-API-KEY`` security scheme as a dependency: the key ``KeyCheck``
    authenticated (and rate limited) before the request got here; then the API version, if
    one is sent, must be one we speak (400). One dependency, so FastAPI documents the
    scheme and the header on every operation that takes it."""

    async def __call__(  # type: ignore[override]
        self, request: Request, version: ApiVersion = None
    ) -> ApiKey:
        if version is not None and version.strip() not in API_VERSIONS:
            raise UnsupportedApiVersion(
                f"Unsupported STATSIG-API-VERSION {version!r}; "
                f"supported: {', '.join(API_VERSIONS)}",
                [
                    ErrorItem(
                        ("STATSIG-API-VERSION",), f"Expected one of: {', '.join(API_VERSIONS)}"
                    )
                ],
            )
        return request.scope[KEY_SCOPE]


_calling_key = _ConsoleKey(
    name=API_KEY_HEADER,
    scheme_name=API_KEY_HEADER,
    auto_error=False,
    description="A console key (console-...); `qualevents keys create` makes one",
)


async def _writing_key(key: Annotated[ApiKey, Security(_calling_key)]) -> ApiKey:
    if not key.can_write:
        raise Forbidden(
            "This key is read-only; mutations need a full-access console key",
            [ErrorItem((API_KEY_HEADER,), "Read-only key used for a mutation")],
        )
    return key


CallingKey = Annotated[ApiKey, Security(_calling_key)]
WritingKey = Annotated[ApiKey, Depends(_writing_key)]


def actor_of(key: ApiKey) -> Actor:
    return Actor(key_id=key.id, key_name=key.name)


async def _expected_revision(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description='The ETag of the version you read ("3"): a 412 if it changed since',
        ),
    ] = None,
) -> int | None:
    """The revision an ``If-Match`` header asks for (None without one, or for ``*``)."""
    if if_match is None or if_match.strip() == "*":
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise PreconditionFailed(
            f"If-Match {if_match!r} is not an ETag this server issued",
            [ErrorItem(("If-Match",), 'Expected an ETag such as "3" from a previous response')],
        )
    return int(value)


ExpectedRevision = Annotated[int | None, Depends(_expected_revision)]


async def _wants_review(
    header: Annotated[
        str | None,
        Header(
            alias="x-respect-review-settings",
            description="true: when the project requires reviews, hold the change for one",
        ),
    ] = None,
) -> bool:
    return (header or "").strip().lower() in ("true", "1", "yes")


WantsReview = Annotated[bool, Depends(_wants_review)]


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise InvalidRequest(
                f"Duplicate key {key!r} in the JSON body",
                [ErrorItem((key,), f"Sent more than once; send {key!r} once")],
            )
        seen[key] = value
    return seen


async def json_body(request: Request) -> None:
    """A JSON body's checks that pydantic does not make: its media type (415), that there is
    one (400), and no key sent twice (400 naming it; JSON parsers keep the last)."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type and media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(
            f"Request body must be JSON; got Content-Type {media_type!r}",
            [ErrorItem(("Content-Type",), "Send Content-Type: application/json")],
        )
    raw = await request.body()
    if not raw.strip():
        raise InvalidRequest(
            "Request body is empty; expected a JSON object",
            [ErrorItem((), "Expected a JSON object")],
        )
    with suppress(ValueError):  # malformed: FastAPI has already said so
        json.loads(raw, object_pairs_hook=_no_duplicate_keys)


async def optional_json_body(request: Request) -> None:
    """``json_body``'s checks, for a body that may be left out."""
    if (await request.body()).strip():
        await json_body(request)


JsonBody = Depends(json_body)
OptionalJsonBody = Depends(optional_json_body)
