"""Persistence of definitions, keys and history. ``open_store(url)`` is the entry point.
Imports the modules of ``store``."""

from qualevents.store.base import Actor, Page, Revision, Store
from qualevents.store.cached import CachedStore
from qualevents.store.engine import create_engine_for
from qualevents.store.migrate import upgrade
from qualevents.store.sql import SQLStore

__all__ = ["Actor", "CachedStore", "Page", "Revision", "SQLStore", "Store", "open_store"]


def open_store(url: str, *, migrate: bool = True, cache: bool = True) -> SQLStore | CachedStore:
    """A store on ``url``, its schema brought up to date unless ``migrate`` is False; its
    hot reads cached (``CachedStore``, one wrapper around the ``SQLStore``) unless ``cache``
    is False."""
    engine = create_engine_for(url)
    if migrate:
        upgrade(engine)
    store = SQLStore(engine)
    return CachedStore(store) if cache else store
