"""uvicorn factory for bench/api.py when ``qualevents serve`` cannot start yet (the runtime's
``qualevents.validation``/``qualevents.warehouse`` imports are still being written): the same
``create_app`` on ``open_store``, with no warehouse and no validator. Settings come from
QUALEVENTS_* like ``qualevents serve``'s workers."""

from __future__ import annotations

from fastapi import FastAPI

from qualevents.api.app import create_app
from qualevents.config import Settings
from qualevents.store.sql import open_store


def create() -> FastAPI:
    settings = Settings(warehouse_url="none")
    return create_app(settings, store=open_store(settings.database_url))
