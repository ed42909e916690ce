"""The composition root: opens the store, the warehouse and the validator from Settings and
hands them to ``create_app``. Imports ``config``, ``store``, ``warehouse``, ``validation``,
``api``. Used by ``qualevents serve`` (one call per worker process) and the CLI.
"""

from __future__ import annotations

import gc
import logging
from typing import Any

from fastapi import FastAPI

from qualevents.config import Settings

log = logging.getLogger("qualevents.runtime")


def open_warehouse_for(settings: Settings) -> Any:
    """The configured warehouse adapter, or None for ``warehouse_url = none``."""
    from qualevents.warehouse import open_warehouse

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
    )


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
    """Once per deployment, before workers start: load the demo data when asked, and fail
    early (with a clear message) on a warehouse URL that cannot work or whose role can do
    more than read (PrivilegedWarehouseRole, unless the operator opted out: then a warning).
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
        if settings.demo:
            from qualevents.warehouse.demo import load_demo

            load_demo(warehouse)
        try:
            warehouse.check_connection()
        except WarehouseError as error:
            log.warning("The warehouse cannot be checked at start: %s", error.message)
    finally:
        warehouse.close()


def build_app(settings: Settings) -> FastAPI:
    from qualevents.api.app import create_app
    from qualevents.store.sql import open_store

    store = open_store(settings.database_url)
    warehouse = open_warehouse_for(settings)
    validator = validator_for(settings, warehouse)
    return create_app(settings, store=store, warehouse=warehouse, validator=validator)


def app_from_environment() -> FastAPI:
    """uvicorn's factory: settings from QUALEVENTS_* (set by ``qualevents serve``).

    What exists once the app is built (modules, sqlglot's and pydantic's tables, the
    routes) lives as long as the process; ``gc.freeze()`` takes it out of the collector's
    view, so a full collection walks only what requests allocate: about 1 ms instead of
    about 55 ms of paused requests, several times a minute under load."""
    app = build_app(Settings())
    gc.collect()
    gc.freeze()
    return app
