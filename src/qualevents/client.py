"""``Client``: a small httpx client for qualevents (and for Statsig's own Console API, which
speaks the same wire format). Never imports server code; only ``errors`` for the typed
exceptions it raises.

    from qualevents import Client
    with Client("http://127.0.0.1:8000", api_key="console-...") as client:
        client.create_qualifying_event({"name": "Purchases", "sql": "...", ...})
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx

from qualevents.errors import (
    ErrorItem,
    Forbidden,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    QualeventsError,
    RateLimited,
    StoreUnavailable,
    Unauthorized,
    UnsupportedMediaType,
    WarehouseError,
    WarehouseTimeout,
)

BASE = "/console/v1/experiments/qualifying_events"
API_VERSION = "20240601"

_BY_STATUS: dict[int, type[QualeventsError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    412: PreconditionFailed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    502: WarehouseError,
    503: StoreUnavailable,
    504: WarehouseTimeout,
}


def _path(name: str, *rest: str) -> str:
    return "/".join([BASE, quote(name, safe=""), *rest])


def error_from_response(response: httpx.Response) -> QualeventsError:
    """The typed error an error response stands for, with its ``errors`` items."""
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
        error: QualeventsError = RateLimited(
            int(response.headers.get("retry-after", "1") or 1), message
        )
    else:
        cls = _BY_STATUS.get(response.status_code, QualeventsError)
        error = cls.__new__(cls)
        QualeventsError.__init__(error, message, items)
    error.status = response.status_code
    error.errors = items
    error.body = body  # type: ignore[attr-defined]
    return error


class Client:
    """One method per endpoint; each returns the response body's ``data`` (or the whole
    body where there is more to it) and raises a ``qualevents.errors`` class on failure."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        http: httpx.Client | None = None,
        review: bool = False,
    ) -> None:
        """``transport`` or a ready ``http`` client (e.g. Starlette's TestClient) may be
        given to talk to an app in process."""
        headers = {"STATSIG-API-KEY": api_key, "STATSIG-API-VERSION": API_VERSION}
        if review:
            headers["x-respect-review-settings"] = "true"
        if http is None:
            http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)
        http.headers.update(headers)
        self._http = http

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise error_from_response(response)
        body = response.json()
        if "ETag" in response.headers:
            body.setdefault("etag", response.headers["ETag"])
        return body

    # -- Statsig's endpoints ------------------------------------------------------------

    def list_qualifying_events(self, *, limit: int = 100, page: int = 1) -> dict[str, Any]:
        """One page: ``{"message", "data": [...], "pagination": {...}}``."""
        return self._call("GET", BASE, params={"limit": limit, "page": page})

    def iter_qualifying_events(self, *, limit: int = 100) -> Iterator[dict[str, Any]]:
        """Every qualifying event, following ``nextPage`` links."""
        path: str | None = f"{BASE}?page=1&limit={limit}"
        while path:
            body = self._call("GET", path)
            yield from body["data"]
            path = body["pagination"]["nextPage"]

    def create_qualifying_event(
        self, event: dict[str, Any], *, dry_run: bool = False
    ) -> dict[str, Any]:
        body = {**event, "dryRun": True} if dry_run else event
        return self._call("POST", BASE, json=body)["data"]

    def get_qualifying_event(self, name: str) -> dict[str, Any]:
        return self._call("GET", _path(name))["data"]

    def update_qualifying_event(
        self, name: str, event: dict[str, Any], *, if_match: str | None = None
    ) -> dict[str, Any]:
        headers = {"If-Match": if_match} if if_match else None
        return self._call("POST", _path(name), json=event, headers=headers)["data"]

    def patch_qualifying_event(
        self, name: str, fields: dict[str, Any], *, if_match: str | None = None
    ) -> dict[str, Any]:
        headers = {"If-Match": if_match} if if_match else None
        return self._call("PATCH", _path(name), json=fields, headers=headers)["data"]

    def delete_qualifying_event(self, name: str) -> None:
        self._call("DELETE", _path(name))

    # -- qualevents extensions ----------------------------------------------------------

    def validate_qualifying_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """A dry-run create: the whole response, with ``validation``."""
        return self._call("POST", BASE, json={**event, "dryRun": True})

    def preview(self, name: str, *, limit: int = 20, days: int = 7) -> list[dict[str, Any]]:
        return self._call(
            "GET", _path(name, "-", "preview"), params={"limit": limit, "days": days}
        )["data"]

    def daily(self, name: str, *, start: str, end: str) -> list[dict[str, Any]]:
        return self._call("GET", _path(name, "-", "daily"), params={"start": start, "end": end})[
            "data"
        ]

    def revisions(self, name: str, *, limit: int = 100, page: int = 1) -> dict[str, Any]:
        return self._call(
            "GET", _path(name, "-", "revisions"), params={"limit": limit, "page": page}
        )

    def revision(self, name: str, number: int) -> dict[str, Any]:
        return self._call("GET", _path(name, "-", "revisions", str(number)))["data"]

    def restore(self, name: str, number: int) -> dict[str, Any]:
        return self._call("POST", _path(name, "-", "revisions", str(number), "restore"))["data"]

    def audit_logs(self, **params: Any) -> dict[str, Any]:
        return self._call("GET", "/console/v1/audit_logs", params=params)

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/-/health")
