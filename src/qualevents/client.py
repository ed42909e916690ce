"""``Client`` and ``AsyncClient``: httpx clients for qualevents (and for Statsig's own Console
API, which speaks the same wire format). Never imports server code: only ``errors`` for the
typed exceptions it raises and ``wire`` for the typed models it returns.

    from qualevents import Client
    with Client("http://127.0.0.1:8000", api_key="console-...") as client:
        read = client.get_qualifying_event("Purchases")
        read.data.sql, read.etag                 # a wire.QualifyingEvent and its ETag
        client.update_qualifying_event("Purchases", {...}, if_match=read.etag)

Every method returns a ``Response`` (``data``, ``etag``, ``headers``, ``status``, ``body``);
every failure raises a ``qualevents.errors`` class keeping the response's ``status``,
``headers`` and decoded ``body``. A 429 is retried after its ``Retry-After`` (at most
``max_retries`` times, each wait at most ``max_retry_wait_s``; ``max_retries=0`` opts out).
``AsyncClient`` has the same methods, each a coroutine.

Analyses run as jobs on the server: ``filter_exposures(...)`` and ``power(...)`` start one
and poll it until it is done (``wait_for``); ``job(id)``, ``cancel_job(id)`` and
``analyses(name)`` read, cancel and list them; ``power_png(job_id)`` draws a power result.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from qualevents.errors import (
    Conflict,
    ErrorItem,
    Forbidden,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    QualeventsError,
    RateLimited,
    RequestTimeout,
    StoreUnavailable,
    Unauthorized,
    UnsupportedMediaType,
    WarehouseError,
    WarehouseTimeout,
)
from qualevents.wire import (
    API_KEY_HEADER,
    API_VERSION,
    AssignmentSource,
    AuditLogItem,
    ExperimentScan,
    Health,
    Job,
    Pagination,
    QualifyingEvent,
    Revision,
    ValidationReport,
)

BASE = "/console/v1/experiments/qualifying_events"
T = TypeVar("T")

_BY_STATUS: dict[int, type[QualeventsError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    408: RequestTimeout,
    409: Conflict,
    412: PreconditionFailed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    502: WarehouseError,
    503: StoreUnavailable,
    504: WarehouseTimeout,
}


@dataclass(frozen=True)
class Response(Generic[T]):
    """One answer: its typed ``data``, the ``ETag`` (reads and writes of an event), the
    ``pagination`` of a list page, the ``validation`` report of a write, and the raw parts."""

    data: T
    status: int
    headers: httpx.Headers
    body: dict[str, Any] = field(repr=False)
    etag: str | None = None
    message: str | None = None
    pagination: Pagination | None = None
    validation: ValidationReport | None = None
    job: Job | None = None  # an analysis: its job (the result is ``data``)

    @property
    def dry_run(self) -> bool:
        return bool(self.body.get("dryRun"))


def _retry_after(headers: httpx.Headers) -> float:
    """Seconds to wait, from ``Retry-After`` (seconds or an HTTP date); 1 when absent."""
    raw = headers.get("retry-after", "").strip()
    if not raw:
        return 1.0
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return 1.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_from_response(response: httpx.Response) -> QualeventsError:
    """The typed error an error response stands for, with its ``errors`` items, keeping the
    response's ``status``, ``headers`` and decoded ``body``."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    message = str(body.get("message") or response.reason_phrase or "HTTP error")
    items = [
        ErrorItem(
            (item.get("property", ""),) if item.get("property") else (),
            str(item.get("errorMessage", "")),
            {k: v for k, v in item.items() if k not in ("property", "errorMessage")},
        )
        for item in body.get("errors") or []
        if isinstance(item, dict)
    ]
    if response.status_code == 429:
        error: QualeventsError = RateLimited(round(_retry_after(response.headers)), message)
    else:
        cls = _BY_STATUS.get(response.status_code, QualeventsError)
        error = cls.__new__(cls)
        QualeventsError.__init__(error, message, items)
    error.status = response.status_code
    error.errors = items
    error.headers = dict(response.headers)
    error.body = body  # type: ignore[attr-defined]
    error.response = response  # type: ignore[attr-defined]
    return error


@dataclass(frozen=True)
class _Call:
    """One request and how its answer's ``data`` is read."""

    method: str
    path: str
    parse: Callable[[Any], Any] = lambda data: data
    params: dict[str, Any] | None = None
    json: Any = None
    headers: dict[str, str] | None = None


# Each kind's base path (each source at base/{name}), where its list and create are when
# not at the base, and where its list is below that (Statsig lists metric sources at /list).
BASES = {
    "qualifying_event": BASE,
    "metric_source": "/console/v1/metrics/metric_source",
    "assignment_source": "/console/v1/experiments/assignment_source",
}
COLLECTIONS = {"assignment_source": "/console/v1/experiments/assignment_sources"}
LIST_PATHS = {"metric_source": "/list"}


def _base(kind: str) -> str:
    try:
        return BASES[kind]
    except KeyError:
        raise ValueError(f"Unknown kind {kind!r}; expected one of: {', '.join(BASES)}") from None


def _collection(kind: str) -> str:
    return COLLECTIONS.get(kind) or _base(kind)


def _path(name: str, *rest: str, kind: str = "qualifying_event") -> str:
    return "/".join([_base(kind), quote(name, safe=""), *rest])


def _as_body(event: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(event, BaseModel):
        return event.model_dump(by_alias=True, exclude_unset=True)
    return dict(event)


def _if_match(etag: str | None) -> dict[str, str] | None:
    return {"If-Match": etag} if etag else None


_EVENT = TypeAdapter(QualifyingEvent).validate_python
_EVENTS = TypeAdapter(list[QualifyingEvent]).validate_python
# Each kind's model as read: a qualifying event's unless named.
_ONE = {"assignment_source": TypeAdapter(AssignmentSource).validate_python}
_MANY = {"assignment_source": TypeAdapter(list[AssignmentSource]).validate_python}
_SCAN = TypeAdapter(list[ExperimentScan]).validate_python


def _one(kind: str) -> Callable[[Any], Any]:
    return _ONE.get(kind, _EVENT)


_REVISIONS = TypeAdapter(list[Revision]).validate_python
_AUDIT = TypeAdapter(list[AuditLogItem]).validate_python


def _nothing(_data: Any) -> None:
    return None


def _answer(response: httpx.Response, parse: Callable[[Any], Any]) -> Response[Any]:
    if response.status_code >= 400:
        raise error_from_response(response)
    if response.headers.get("content-type", "").startswith("image/"):  # a picture: its bytes
        return Response(
            data=response.content, status=response.status_code, headers=response.headers, body={}
        )
    body = response.json()
    if not isinstance(body, dict):
        body = {"data": body}
    data = body.get("data", body) if "data" in body or "message" in body else body
    pagination = body.get("pagination")
    validation = body.get("validation")
    job = body.get("job")
    return Response(
        data=parse(data) if data is not None else None,
        status=response.status_code,
        headers=response.headers,
        body=body,
        etag=response.headers.get("etag"),
        message=body.get("message"),
        pagination=Pagination.model_validate(pagination) if pagination else None,
        validation=ValidationReport.model_validate(validation) if validation else None,
        job=Job.model_validate(job) if isinstance(job, dict) else None,
    )


JOBS = "/console/v1/-/jobs"
DONE = ("succeeded", "failed", "cancelled")
_JOBS = TypeAdapter(list[Job]).validate_python
ProgressCallback = Callable[[Job], Any]


def analysis_body(**fields: Any) -> dict[str, Any]:
    """An analysis request body from snake_case keyword arguments (``experiment_id`` ->
    ``experimentID``); None values are left out, so the server's defaults apply."""
    renamed = {"experiment_id": "experimentID"}
    body = {}
    for name, value in fields.items():
        if value is None:
            continue
        head, *rest = name.split("_")
        body[renamed.get(name, head + "".join(part.title() for part in rest))] = value
    return body


def _finished(job: Job, accepted: Response[Any]) -> Response[Any]:
    """A finished job as the answer its POST would have given: the result, or the error."""
    if job.status == "succeeded":
        return Response(
            data=job.result,
            status=200,
            headers=accepted.headers,
            body={"message": "Job succeeded.", "data": job.result},
            message="Job succeeded.",
            job=job,
        )
    error = job.error.model_dump(by_alias=True) if job.error else {}
    status = int(error.get("status") or 500)
    raise error_from_response(httpx.Response(status, json=error))


def _accepted_job(response: Response[Any]) -> Job | None:
    """The job of a 202 (still running), else None (the answer is final)."""
    return response.job if response.status == 202 else None


@dataclass
class _Poll:
    """The waiting of ``wait_for``, shared by ``Client`` and ``AsyncClient`` (which differ
    only in how they sleep and read the job)."""

    started: Response[Any]
    timeout_s: float | None
    on_progress: ProgressCallback | None
    deadline: float | None = None

    def __post_init__(self) -> None:
        if self.timeout_s is not None:
            self.deadline = time.monotonic() + self.timeout_s

    def answer(self, job: Job) -> Response[Any] | None:
        """The final answer once ``job`` is done, None to poll again; WarehouseTimeout once
        ``timeout_s`` has passed."""
        if self.on_progress is not None:
            self.on_progress(job)
        if job.status in DONE:
            return _finished(job, self.started)
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise WarehouseTimeout(f"Job {job.id} still {job.status} after {self.timeout_s:g} s")
        return None


class _Endpoints:
    """One method per endpoint, written once: each builds a ``_Call`` and hands it to
    ``_run``, which ``Client`` runs at once and ``AsyncClient`` as a coroutine."""

    def _run(self, call: _Call) -> Any:
        raise NotImplementedError

    # -- Statsig's endpoints ----------------------------------------------------------------

    # Every method on one source takes ``kind``: "qualifying_event" (the default),
    # "metric_source" (the same shape, parsed into the same model) or "assignment_source"
    # (parsed into ``wire.AssignmentSource``).

    def list_qualifying_events(
        self, *, limit: int = 100, page: int = 1, kind: str = "qualifying_event"
    ) -> Any:
        """One page: ``data`` is a list of ``QualifyingEvent``, with ``pagination``."""
        path = _collection(kind) + LIST_PATHS.get(kind, "")
        parse = _MANY.get(kind, _EVENTS)
        return self._run(_Call("GET", path, parse, params={"limit": limit, "page": page}))

    def create_qualifying_event(
        self,
        event: BaseModel | Mapping[str, Any],
        *,
        dry_run: bool = False,
        kind: str = "qualifying_event",
    ) -> Any:
        body = {**_as_body(event), "dryRun": True} if dry_run else _as_body(event)
        return self._run(_Call("POST", _collection(kind), _one(kind), json=body))

    def get_qualifying_event(self, name: str, *, kind: str = "qualifying_event") -> Any:
        """``data`` is the ``QualifyingEvent``; ``etag`` is what ``if_match=`` takes."""
        return self._run(_Call("GET", _path(name, kind=kind), _one(kind)))

    def update_qualifying_event(
        self,
        name: str,
        event: BaseModel | Mapping[str, Any],
        *,
        if_match: str | None = None,
        kind: str = "qualifying_event",
    ) -> Any:
        path = _path(name, kind=kind)
        return self._run(
            _Call("POST", path, _one(kind), json=_as_body(event), headers=_if_match(if_match))
        )

    def patch_qualifying_event(
        self,
        name: str,
        fields: BaseModel | Mapping[str, Any],
        *,
        if_match: str | None = None,
        kind: str = "qualifying_event",
    ) -> Any:
        path = _path(name, kind=kind)
        return self._run(
            _Call("PATCH", path, _one(kind), json=_as_body(fields), headers=_if_match(if_match))
        )

    def delete_qualifying_event(
        self, name: str, *, if_match: str | None = None, kind: str = "qualifying_event"
    ) -> Any:
        path = _path(name, kind=kind)
        return self._run(_Call("DELETE", path, _nothing, headers=_if_match(if_match)))

    # -- qualevents extensions ------------------------------------------------------------

    def validate_qualifying_event(
        self, event: BaseModel | Mapping[str, Any], *, kind: str = "qualifying_event"
    ) -> Any:
        """A dry-run create: nothing is stored; the answer's ``validation`` is the report."""
        return self.create_qualifying_event(event, dry_run=True, kind=kind)

    def preview(
        self, name: str, *, limit: int = 20, days: int = 7, kind: str = "qualifying_event"
    ) -> Any:
        params = {"limit": limit, "days": days}
        return self._run(_Call("GET", _path(name, "-", "preview", kind=kind), params=params))

    def daily(self, name: str, *, start: str, end: str, kind: str = "qualifying_event") -> Any:
        params = {"start": start, "end": end}
        return self._run(_Call("GET", _path(name, "-", "daily", kind=kind), params=params))

    def experiments(
        self,
        name: str,
        *,
        start: str | None = None,
        end: str | None = None,
        unit_type: str | None = None,
    ) -> Any:
        """An assignment source's scan: ``data`` is a list of ``wire.ExperimentScan``."""
        params = {"start": start, "end": end, "unitType": unit_type}
        path = _path(name, "-", "experiments", kind="assignment_source")
        given = {key: value for key, value in params.items() if value is not None}
        return self._run(_Call("GET", path, _SCAN, params=given))

    def revisions(
        self, name: str, *, limit: int = 100, page: int = 1, kind: str = "qualifying_event"
    ) -> Any:
        params = {"limit": limit, "page": page}
        path = _path(name, "-", "revisions", kind=kind)
        return self._run(_Call("GET", path, _REVISIONS, params=params))

    def revision(self, name: str, number: int, *, kind: str = "qualifying_event") -> Any:
        path = _path(name, "-", "revisions", str(number), kind=kind)
        return self._run(_Call("GET", path, Revision.model_validate))

    def restore(
        self,
        name: str,
        number: int,
        *,
        if_match: str | None = None,
        kind: str = "qualifying_event",
    ) -> Any:
        path = _path(name, "-", "revisions", str(number), "restore", kind=kind)
        return self._run(_Call("POST", path, _one(kind), headers=_if_match(if_match)))

    # -- analyses and their jobs (qualevents) -------------------------------------------------

    def start_filter_exposures(self, name: str, body: Mapping[str, Any]) -> Any:
        """POST ``-/filter_exposures`` once: 200 with the result, or 202 with the job."""
        return self._run(_Call("POST", _path(name, "-", "filter_exposures"), json=dict(body)))

    def start_power(self, name: str, body: Mapping[str, Any], *, png: bool = False) -> Any:
        """POST ``-/power`` once: 200 with the result (``png``: the PNG's bytes as ``data``),
        or 202 with the job."""
        headers = {"Accept": "image/png"} if png else None
        path = _path(name, "-", "power")
        return self._run(_Call("POST", path, json=dict(body), headers=headers))

    def power_png(self, job_id: str) -> Any:
        """A succeeded power job's result as a PNG: ``data`` is its bytes."""
        path = f"{JOBS}/{quote(job_id, safe='')}"
        return self._run(_Call("GET", path, headers={"Accept": "image/png"}))

    def job(self, job_id: str) -> Any:
        """A job: ``data`` is a ``wire.Job`` (its ``result`` once succeeded)."""
        return self._run(_Call("GET", f"{JOBS}/{quote(job_id, safe='')}", Job.model_validate))

    def cancel_job(self, job_id: str) -> Any:
        """Cancel a queued or running job and its warehouse query (409 once finished)."""
        path = f"{JOBS}/{quote(job_id, safe='')}/cancel"
        return self._run(_Call("POST", path, Job.model_validate))

    def analyses(
        self, name: str, *, limit: int = 20, page: int = 1, analysis: str | None = None
    ) -> Any:
        """The event's analyses (jobs), newest first."""
        params: dict[str, Any] = {"limit": limit, "page": page}
        if analysis:
            params["analysis"] = analysis
        return self._run(_Call("GET", _path(name, "-", "analyses"), _JOBS, params=params))

    # -- config as code (qualevents) ---------------------------------------------------------

    def plan(self, body: Mapping[str, Any]) -> Any:
        """``POST /console/v1/-/plan``: ``data`` is the plan (a ``wire.PlanData`` dict)."""
        return self._run(_Call("POST", "/console/v1/-/plan", json=dict(body)))

    def apply(self, body: Mapping[str, Any]) -> Any:
        """``POST /console/v1/-/apply``: all the changes or none; ``status`` 202 when held
        for review (``data["changeRequests"]``)."""
        return self._run(_Call("POST", "/console/v1/-/apply", json=dict(body)))

    def audit_logs(self, **params: Any) -> Any:
        return self._run(_Call("GET", "/console/v1/audit_logs", _AUDIT, params=params))

    def health(self) -> Any:
        return self._run(_Call("GET", "/-/health", Health.model_validate))


def _headers(api_key: str, review: bool) -> dict[str, str]:
    headers = {API_KEY_HEADER: api_key, "STATSIG-API-VERSION": API_VERSION}
    if review:
        headers["x-respect-review-settings"] = "true"
    return headers


class Client(_Endpoints):
    """The synchronous client; each method returns a ``Response``."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        http: httpx.Client | None = None,
        review: bool = False,
        max_retries: int = 2,
        max_retry_wait_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``transport`` or a ready ``http`` client (e.g. Starlette's TestClient) may be
        given to talk to an app in process; ``sleep`` is how a 429's wait is spent."""
        if http is None:
            http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)
        http.headers.update(_headers(api_key, review))
        self._http = http
        self.max_retries = max_retries
        self.max_retry_wait_s = max_retry_wait_s
        self._sleep = sleep

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _run(self, call: _Call) -> Response[Any]:
        for attempt in range(self.max_retries + 1):
            response = self._http.request(
                call.method, call.path, params=call.params, json=call.json, headers=call.headers
            )
            if response.status_code != 429 or attempt == self.max_retries:
                break
            self._sleep(min(_retry_after(response.headers), self.max_retry_wait_s))
        return _answer(response, call.parse)

    def filter_exposures(
        self,
        name: str,
        *,
        assignment_source: str,
        experiment_id: str,
        poll_interval_s: float = 1.0,
        timeout_s: float | None = None,
        on_progress: ProgressCallback | None = None,
        **options: Any,
    ) -> Response[Any]:
        """Filter an experiment's exposures by the qualifying event ``name`` and wait for
        the result (polling the job while the warehouse works); ``options`` are the other
        body fields in snake_case (``mode``, ``window={"amount": 1, "unit": "days"}``,
        ``event_filter``, ``expected_split``, ``wait``, ...). ``data`` is the result and
        ``job`` the job; a failed job raises its error, a cancelled one Conflict (409)."""
        body = analysis_body(
            assignment_source=assignment_source, experiment_id=experiment_id, **options
        )
        return self.wait_for(
            self.start_filter_exposures(name, body),
            poll_interval_s=poll_interval_s,
            timeout_s=timeout_s,
            on_progress=on_progress,
        )

    def power(
        self,
        name: str,
        *,
        metric_source: str,
        metric: Mapping[str, Any],
        poll_interval_s: float = 1.0,
        timeout_s: float | None = None,
        on_progress: ProgressCallback | None = None,
        **options: Any,
    ) -> Response[Any]:
        """A power analysis with the qualifying event ``name`` as the population, waiting
        for the result (polling the job while the warehouse works). ``metric`` is as on the
        wire (``{"type": "sum", "valueColumn": "price_usd"}``); ``options`` are the other
        body fields in snake_case (``weeks``, ``end``, ``metric_window_days``,
        ``alternative``, ``groups``, ``control_share``, ``cuped={"preDays": 7}``, ...).
        ``data`` is the result and ``job`` the job (``power_png(job.id)`` draws it)."""
        body = analysis_body(metric_source=metric_source, metric=dict(metric), **options)
        return self.wait_for(
            self.start_power(name, body),
            poll_interval_s=poll_interval_s,
            timeout_s=timeout_s,
            on_progress=on_progress,
        )

    def wait_for(
        self,
        started: Response[Any],
        *,
        poll_interval_s: float = 1.0,
        timeout_s: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Response[Any]:
        """The final answer of an analysis POST: polls its job while it is queued or
        running (``on_progress(job)`` after each poll); WarehouseTimeout when ``timeout_s``
        passes first (the job keeps running: cancel it with ``cancel_job``)."""
        job = _accepted_job(started)
        if job is None:
            return started
        poll = _Poll(started, timeout_s, on_progress)
        while (final := poll.answer(job)) is None:
            self._sleep(poll_interval_s)
            job = self.job(job.id).data
        return final

    def iter_qualifying_events(self, *, limit: int = 100) -> Iterator[QualifyingEvent]:
        """Every qualifying event, following ``nextPage`` links."""
        path: str | None = f"{BASE}?page=1&limit={limit}"
        while path:
            page = self._run(_Call("GET", path, _EVENTS))
            yield from page.data
            path = page.pagination.next_page if page.pagination else None


class AsyncClient(_Endpoints):
    """The asynchronous client: the same methods as ``Client``, each a coroutine."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        http: httpx.AsyncClient | None = None,
        review: bool = False,
        max_retries: int = 2,
        max_retry_wait_s: float = 30.0,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        if http is None:
            http = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)
        http.headers.update(_headers(api_key, review))
        self._http = http
        self.max_retries = max_retries
        self.max_retry_wait_s = max_retry_wait_s
        self._sleep = sleep

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _run(self, call: _Call) -> Response[Any]:  # type: ignore[override]
        for attempt in range(self.max_retries + 1):
            response = await self._http.request(
                call.method, call.path, params=call.params, json=call.json, headers=call.headers
            )
            if response.status_code != 429 or attempt == self.max_retries:
                break
            await self._sleep(min(_retry_after(response.headers), self.max_retry_wait_s))
        return _answer(response, call.parse)

    async def filter_exposures(
        self,
        name: str,
        *,
        assignment_source: str,
        experiment_id: str,
        poll_interval_s: float = 1.0,
        timeout_s: float | None = None,
        on_progress: ProgressCallback | None = None,
        **options: Any,
    ) -> Response[Any]:
        """``Client.filter_exposures``, as a coroutine."""
        body = analysis_body(
            assignment_source=assignment_source, experiment_id=experiment_id, **options
        )
        return await self.wait_for(
            await self.start_filter_exposures(name, body),
            poll_interval_s=poll_interval_s,
            timeout_s=timeout_s,
            on_progress=on_progress,
        )

    async def power(
        self,
        name: str,
        *,
        metric_source: str,
        metric: Mapping[str, Any],
        poll_interval_s: float = 1.0,
        timeout_s: float | None = None,
        on_progress: ProgressCallback | None = None,
        **options: Any,
    ) -> Response[Any]:
        """``Client.power``, as a coroutine."""
        body = analysis_body(metric_source=metric_source, metric=dict(metric), **options)
        return await self.wait_for(
            await self.start_power(name, body),
            poll_interval_s=poll_interval_s,
            timeout_s=timeout_s,
            on_progress=on_progress,
        )

    async def wait_for(
        self,
        started: Response[Any],
        *,
        poll_interval_s: float = 1.0,
        timeout_s: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Response[Any]:
        """``Client.wait_for``, as a coroutine."""
        job = _accepted_job(started)
        if job is None:
            return started
        poll = _Poll(started, timeout_s, on_progress)
        while (final := poll.answer(job)) is None:
            await self._sleep(poll_interval_s)
            job = (await self.job(job.id)).data
        return final

    async def iter_qualifying_events(self, *, limit: int = 100) -> AsyncIterator[QualifyingEvent]:
        path: str | None = f"{BASE}?page=1&limit={limit}"
        while path:
            page = await self._run(_Call("GET", path, _EVENTS))
            for event in page.data:
                yield event
            path = page.pagination.next_page if page.pagination else None
