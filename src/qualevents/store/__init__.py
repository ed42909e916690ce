"""Persistence of definitions, keys and history. ``open_store(url)`` is the entry point."""

from qualevents.store.base import Actor, Page, Revision, Store
from qualevents.store.cached import CachedStore
from qualevents.store.sql import SQLStore, open_store

__all__ = ["Actor", "CachedStore", "Page", "Revision", "SQLStore", "Store", "open_store"]
