"""The composition root: opens the store, the warehouse and the validator from Settings and
hands them to ``create_app``. Imports ``config``, ``store``, ``warehouse``, ``validation``,
``api``. Used by ``qualevents serve`` (one call per worker process) and the CLI.
"""

from __future__ import annotations

import gc
import sys
from typing import Any

from fastapi import FastAPI

from qualevents.config import Settings


def open_warehouse_for(settings: Settings) -> Any:
    """The configured warehouse adapter, or None for ``warehouse_url = none``."""
    from qualevents.warehouse import open_warehouse

    return open_warehouse(
        settings.warehouse_url,
        timeout_s=settings.warehouse_timeout_s,
        row_cap=settings.warehouse_row_cap,
    )


def prepare_warehouse(settings: Settings) -> None:
    """Once per deployment, before workers start: load the demo data when asked, and fail
    early (with a clear message) on a warehouse URL that cannot work."""
    warehouse = open_warehouse_for(settings)
    if warehouse is None:
        return
    try:
        if settings.demo:
            from qualevents.warehouse.demo import load_demo

            load_demo(warehouse)
    finally:
        warehouse.close()


def build_app(settings: Settings) -> FastAPI:
    from qualevents.api.app import create_app
    from qualevents.store.sql import open_store
    from qualevents.validation import Validator

    store = open_store(settings.database_url)
    warehouse = open_warehouse_for(settings)
    validator = Validator(warehouse)
    return create_app(
        settings, store=store, warehouse=warehouse, validator=validator, close_on_shutdown=True
    )


def app_from_environment() -> FastAPI:
    """uvicorn's factory: settings from QUALEVENTS_* (set by ``qualevents serve``).

    What exists once the app is built (modules, sqlglot's and pydantic's tables, the
    routes) lives as long as the process; ``gc.freeze()`` takes it out of the collector's
    view, so a full collection walks only what requests allocate: about 1 ms instead of
    about 55 ms of paused requests, several times a minute under load.

    Store calls run on worker threads while the event loop serves other requests; a thread
    parsing SQL holds the GIL for up to the switch interval before the loop gets it back, so
    the interval is shortened from 5 ms to 1 ms (docs/benchmarks.md has the effect on p99)."""
    app = build_app(Settings())
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(0.001)
    return app
