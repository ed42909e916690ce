"""The composition root: opens the store, the warehouse and the validator from Settings and
hands them to ``create_app`` (the web console added by ``console.install``), after the checks
that must fail before a server starts. Imports ``config``, ``errors``, ``store``,
``warehouse``, ``validation``, ``api``, ``console``. Used by ``qualevents serve`` (one call
per worker process) and the CLI.
"""

from __future__ import annotations

import gc
import importlib.metadata
import logging
import sys
from typing import Any

from fastapi import FastAPI

from qualevents.config import Settings, mask_url
from qualevents.errors import ConfigurationError, ErrorItem, QualeventsError

log = logging.getLogger("qualevents.runtime")


def open_warehouse_for(settings: Settings) -> Any:
    """The configured warehouse adapter, or None for ``warehouse_url = none``;
    ConfigurationError for a URL its adapter cannot read."""
    from qualevents.warehouse import open_warehouse

    try:
        return open_warehouse(
            settings.warehouse_url,
            timeout_s=settings.warehouse_timeout_s,
            row_cap=settings.warehouse_row_cap,
            # One connection per warehouse thread: the rows lane's and the checks lane's.
            pool_size=settings.warehouse_concurrency * 2,
            allow_privileged_role=settings.warehouse_allow_privileged_role,
            memory_limit=settings.warehouse_memory_limit,
            temp_directory_limit=settings.warehouse_temp_limit,
            threads=settings.warehouse_threads,
            query_labels=settings.warehouse_query_labels,
            maximum_bytes_billed=settings.warehouse_maximum_bytes_billed,
        )
    except QualeventsError:
        raise
    except Exception as error:  # an adapter that choked on its URL's parts
        scheme = settings.warehouse_url.split("://", 1)[0]
        message = (
            f"Invalid {scheme} warehouse URL {mask_url(settings.warehouse_url)}: "
            f"{type(error).__name__}; see docs/warehouses.md for its form"
        )
        raise ConfigurationError(message, [ErrorItem(("warehouse_url",), message)]) from None


def _installed(distribution: str) -> bool:
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def require_driver(adapter: type) -> None:
    """ConfigurationError naming the pip extra when a package the adapter's extra installs
    (``pyproject.toml``'s ``[project.optional-dependencies]``, read from the installed
    metadata) is missing. Without installed metadata (a source tree) nothing is checked:
    the adapter still names the extra at its first query."""
    extra = getattr(adapter, "EXTRA", None)
    if not extra:
        return
    from packaging.requirements import Requirement

    from qualevents.warehouse.base import missing_driver

    try:
        requirements = importlib.metadata.requires("qualevents") or []
    except importlib.metadata.PackageNotFoundError:
        return
    for text in requirements:
        requirement = Requirement(text)
        wanted = requirement.marker is not None and requirement.marker.evaluate({"extra": extra})
        if wanted and not _installed(requirement.name):
            raise missing_driver(extra, requirement.name)


def validator_for(settings: Settings, warehouse: Any) -> Any:
    """The validator of ``warehouse`` with the settings' runner and memo budget."""
    from qualevents.validation import Validator
    from qualevents.warehouse.executor import WarehouseRunner

    runner = None
    if warehouse is not None:
        embedded_threads = getattr(warehouse, "threads", None) if warehouse.EMBEDDED else None
        runner = WarehouseRunner(
            threads=settings.warehouse_concurrency,
            per_key=settings.warehouse_requests_per_key,
            rows_threads=embedded_threads,
        )
    return Validator(warehouse, runner=runner, memo_bytes=settings.validation_memo_bytes)


def prepare_warehouse(settings: Settings) -> None:
    """Once per deployment, before workers start: fail early, with a clear message, on a
    warehouse URL that cannot work (unreadable, or its driver not installed: the message
    names the pip extra) or whose role can do more than read (PrivilegedWarehouseRole,
    unless the operator opted out: then a warning), and load the demo data when asked.
    A warehouse that cannot be reached now is only a warning: validation falls back to
    static checks until it can."""
    from qualevents.errors import WarehouseError

    warehouse = open_warehouse_for(settings)
    if warehouse is None:
        return
    if settings.warehouse_allow_privileged_role:
        log.warning(
            "QUALEVENTS_WAREHOUSE_ALLOW_PRIVILEGED_ROLE is set: the warehouse role is not "
            "checked, and a role that can read server files or run programs is accepted"
        )
    try:
        require_driver(type(warehouse))
        if settings.demo:
            from qualevents.warehouse.demo import load_demo

            load_demo(warehouse)
        try:
            warehouse.check_connection()
        except WarehouseError as error:
            log.warning("The warehouse cannot be checked at start: %s", error.message)
    finally:
        warehouse.close()


def ensure_demo_sources(store: Any) -> list[str]:
    """With ``--demo``: the demo's qualifying event, metric source and assignment source
    (``warehouse.demo``'s bodies, checked against the demo data by its tests), created once;
    a name already taken in its kind is left as it is. Returns ``kind/name`` of each one
    created."""
    from qualevents.api.convert import event_from_body
    from qualevents.errors import NameInUse
    from qualevents.models import source_model
    from qualevents.service import QualifyingEventService
    from qualevents.store.base import Actor
    from qualevents.warehouse.demo import (
        ASSIGNMENT_SOURCE_BODY,
        METRIC_SOURCE_BODY,
        QUALIFYING_EVENT_BODY,
    )
    from qualevents.wire import AssignmentSourceCreateBody, CreateBody

    created = []
    for kind, body_type, body in (
        ("qualifying_event", CreateBody, QUALIFYING_EVENT_BODY),
        ("metric_source", CreateBody, METRIC_SOURCE_BODY),
        ("assignment_source", AssignmentSourceCreateBody, ASSIGNMENT_SOURCE_BODY),
    ):
        service = QualifyingEventService(store.for_kind(kind))
        event = event_from_body(
            body_type.model_validate(body), str(body["name"]), source_model(kind)
        )
        if service.store.get_event(event.name, fresh=True) is not None:
            continue
        try:
            service.create(event, Actor(None, "demo"))
        except NameInUse:  # another process made it meanwhile
            continue
        created.append(f"{kind}/{event.name}")
    return created


def missing_key_hint(store: Any, database_url: str) -> str | None:
    """What to tell an operator whose database has no usable console key yet (every
    request would get 401), or None when it has one."""
    if any(key.revoked_at is None for key in store.list_keys()):
        return None
    return (
        f"No console key in {mask_url(database_url)}: every request will get 401. Make one "
        f"with:  qualevents keys create --name admin --database-url '{mask_url(database_url)}'"
        "  (the key is the last line it prints)"
    )


def build_app(settings: Settings) -> FastAPI:
    from qualevents.api.app import create_app
    from qualevents.store import open_store

    store = open_store(settings.database_url)
    hint = missing_key_hint(store, settings.database_url)
    if hint:
        logging.getLogger("qualevents").warning(hint)
    warehouse = open_warehouse_for(settings)
    validator = validator_for(settings, warehouse)
    from qualevents.console import install

    return install(
        create_app(
            settings, store=store, warehouse=warehouse, validator=validator, close_on_shutdown=True
        )
    )


def app_from_environment() -> FastAPI:
    """uvicorn's factory: settings from QUALEVENTS_* (set by ``qualevents serve``).

    What exists once the app is built (modules, sqlglot's and pydantic's tables, the
    routes) lives as long as the process; ``gc.freeze()`` takes it out of the collector's
    view, so a full collection walks only what requests allocate, not the whole app
    (what that saves in paused requests: docs/benchmarks.md).

    Store calls run on worker threads while the event loop serves other requests; a thread
    parsing SQL holds the GIL for up to the switch interval before the loop gets it back, so
    the interval is shortened from 5 ms to 1 ms (docs/benchmarks.md has the effect on p99)."""
    app = build_app(Settings())
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(0.001)
    return app
