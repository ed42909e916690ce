"""Where the config-as-code commands find sources: ``Local`` (the local database and
warehouse, through the services the API uses) or ``Remote`` (a qualevents server, or
Statsig's Console API for reads), the same methods on both so the commands print the same
either way. Imports ``cli.common``, ``errors``, and lazily ``api``, ``service``, ``sync``,
``client``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from qualevents.cli.common import open_local_store, settings_from, usage
from qualevents.errors import QualeventsError


class Local:
    """The local database (and warehouse, to validate), through the services the API uses."""

    def __init__(self, database_url: str | None, warehouse_url: str | None) -> None:
        self.database_url = database_url
        self.warehouse_url = warehouse_url
        self.store = open_local_store(database_url)
        self._sync: Any = None

    @property
    def target(self) -> str:
        from qualevents.config import mask_url

        return mask_url(settings_from(database_url=self.database_url).database_url)

    def sync(self) -> Any:
        if self._sync is None:
            from qualevents.api.routes.kinds import KINDS as SERVED
            from qualevents.reviews import ReviewService
            from qualevents.runtime import open_warehouse_for
            from qualevents.service import QualifyingEventService
            from qualevents.sync.kinds import BY_NAME
            from qualevents.sync.plan import SyncService
            from qualevents.validation import Validator

            settings = settings_from(
                database_url=self.database_url, warehouse_url=self.warehouse_url
            )
            validator = Validator(open_warehouse_for(settings))
            # As create_app builds them: each kind's reserved names and renames.
            services = {
                kind.name: QualifyingEventService(
                    self.store.for_kind(kind.name),
                    validator,
                    reserved_names=kind.reserved_names,
                    renames=kind.renames,
                )
                for kind in SERVED
                if kind.name in BY_NAME
            }
            first = services["qualifying_event"]
            self._sync = SyncService(services, ReviewService(first.store, first))
        return self._sync

    def documents(self, kind: str) -> list[dict[str, Any]]:
        from qualevents.wire import to_wire

        store = self.store.for_kind(kind)
        found, offset = [], 0
        while True:
            page = store.list_event_documents(offset, 1000)
            found += [to_wire(document) for document in page.items]
            offset += 1000
            if offset >= page.total or not page.items:
                return found

    def plan(self, body: dict[str, Any]) -> dict[str, Any]:
        from qualevents.api.plans import desired_of, plan_to_wire
        from qualevents.wire import PlanBody

        parsed = _parse(PlanBody, body)
        return plan_to_wire(
            self.sync().plan(parsed.sync_id, desired_of(parsed), prune=parsed.prune)
        )

    def apply(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        import getpass

        from qualevents.api.plans import applied_to_wire, changes_of
        from qualevents.store.base import Actor
        from qualevents.wire import ApplyBody

        parsed = _parse(ApplyBody, body)
        applied = self.sync().apply(
            parsed.sync_id,
            changes_of(parsed),
            Actor(None, f"cli:{getpass.getuser()}"),
            read_only=parsed.read_only,
            review=True,
        )
        return (202 if applied.held else 200), applied_to_wire(applied)


def _parse(model: Any, body: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    from qualevents.api.errors import from_pydantic

    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise from_pydantic(exc) from None


class Remote:
    """A qualevents server (or Statsig's Console API, for reads)."""

    def __init__(
        self, url: str, api_key: str | None, *, review: bool = True, **options: Any
    ) -> None:
        from qualevents.client import Client

        if not api_key:
            usage("--api-key (or $STATSIG_API_KEY) is required with --url")
        self.url = url
        # apply's mutations ask to respect the project's review settings.
        self.client = Client(url, api_key, review=review, **options)

    @property
    def target(self) -> str:
        return self.url.rstrip("/")

    @contextmanager
    def reaching(self) -> Iterator[None]:
        """A server that cannot be reached is a domain error (exit 1), not a traceback."""
        import httpx

        try:
            yield
        except httpx.HTTPError as exc:
            raise QualeventsError(
                f"Cannot reach {self.target}: {type(exc).__name__}: {exc}"
            ) from None

    def documents(self, kind: str, on_page: Any = None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            with self.reaching():
                answer = self.client.list_qualifying_events(limit=100, page=page, kind=kind)
            items = answer.body.get("data") or []
            found += [item for item in items if isinstance(item, dict)]
            if on_page is not None:
                on_page(len(items), answer.pagination)
            if not answer.pagination or not answer.pagination.next_page or not items:
                return found
            page += 1

    def plan(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.reaching():
            return self.client.plan(body).body["data"]

    def apply(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.reaching():
            answer = self.client.apply(body)
        return answer.status, answer.body["data"]


def backend(
    url: str | None, api_key: str | None, database_url: str | None, warehouse_url: str | None
) -> Local | Remote:
    if url:
        if database_url or warehouse_url:
            usage("--url talks to a server: --database-url and --warehouse-url are local")
        return Remote(url, api_key)
    return Local(database_url, warehouse_url)
