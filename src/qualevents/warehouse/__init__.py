"""Warehouse adapters and their registry. Imports ``errors``, ``sql`` and the adapter
modules (lazily: a cloud driver is imported only when its warehouse is opened).

Module name = registry key = adapter ``NAME`` = sqlglot dialect name: ``duckdb`` (built in),
``postgres``, ``bigquery``, ``snowflake``, ``databricks``, ``redshift``, ``trino``,
``clickhouse``, ``spark`` (Spark Connect). A warehouse URL's scheme picks the adapter
(``postgresql://`` is an alias of ``postgres``, ``sc://`` of ``spark``); ``none`` means no
warehouse.

Beside the adapters: ``options`` (typed URL options), ``pool`` (the one connection cache:
``Pool`` for DB-API drivers, ``Shared`` for one thread-safe client), ``executor`` (the
``WarehouseRunner`` the API awaits: its own threads, a per-key limit), ``classify`` (driver
errors by class and code), ``labels`` (what each statement is labelled with).
"""

from __future__ import annotations

import importlib
from typing import Any

from qualevents.errors import ConfigurationError, ErrorItem, did_you_mean
from qualevents.warehouse.base import Warehouse

NAMES = (
    "duckdb",
    "postgres",
    "bigquery",
    "snowflake",
    "databricks",
    "redshift",
    "trino",
    "clickhouse",
    "spark",
)
ALIASES = {
    "postgresql": "postgres",
    "postgresql+psycopg": "postgres",
    "postgres+psycopg": "postgres",
    "sc": "spark",  # Spark Connect's own scheme
}
NO_WAREHOUSE = ("none", "")


def get(name: str) -> type[Warehouse] | None:
    """The adapter class registered as ``name`` (or a URL scheme alias), None if unknown."""
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in NAMES:
        return None
    module = importlib.import_module(f"qualevents.warehouse.{key}")
    return module.WAREHOUSE


def get_or_raise(name: str) -> type[Warehouse]:
    found = get(name)
    if found is None:
        choices = [*NAMES, *ALIASES]
        message = (
            f"Unknown warehouse {name!r}; expected one of: {', '.join(NAMES)}."
            f"{did_you_mean(name, choices)}"
        )
        raise ConfigurationError(message, [ErrorItem(("warehouse_url",), message)])
    return found


def open_warehouse(
    url: str, *, timeout_s: float = 30.0, row_cap: int = 10_000, **tuning: Any
) -> Warehouse | None:
    """The adapter for ``url`` (``duckdb:///path``, ``postgresql://...``, ``snowflake://...``)
    or None for ``none``. Nothing is connected until the first query. ``tuning`` goes to
    ``Warehouse.configure`` (``pool_size``, ``allow_privileged_role``, DuckDB's
    ``memory_limit``, ``temp_directory_limit``, ``threads``)."""
    text = (url or "").strip()
    if text.lower() in NO_WAREHOUSE:
        return None
    if "://" not in text:
        message = f"A warehouse URL looks like scheme://...; got {text.split(':', 1)[0]!r}..."
        raise ConfigurationError(message, [ErrorItem(("warehouse_url",), message)])
    scheme = text.split("://", 1)[0]
    adapter = get_or_raise(scheme)
    try:
        warehouse = adapter.from_url(text, timeout_s=timeout_s, row_cap=row_cap)
        warehouse.configure(**tuning)
        return warehouse
    except ConfigurationError:
        raise
    except (ValueError, KeyError) as error:
        message = f"Invalid {adapter.NAME} warehouse URL: {type(error).__name__}"
        raise ConfigurationError(message, [ErrorItem(("warehouse_url",), message)]) from None


__all__ = ["NAMES", "Warehouse", "get", "get_or_raise", "open_warehouse"]
