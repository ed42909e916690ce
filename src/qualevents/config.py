"""Settings: environment (``QUALEVENTS_*``) > ``.env`` file > defaults. Imports only ``errors``.

Settings are built by the caller (``Settings()`` in the CLI, explicit values in tests) and
passed down; nothing reads them at import time. URLs that may carry a password are shown
masked wherever they are printed (``Settings.masked``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./qualevents.db"
DEFAULT_WAREHOUSE_URL = "duckdb:///./qualevents-warehouse.duckdb"
MAX_BODY_BYTES = 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="QUALEVENTS_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="Where definitions, keys and history live: sqlite:///path or "
        "postgresql+psycopg://user@host/db",
    )
    warehouse_url: str = Field(
        DEFAULT_WAREHOUSE_URL,
        description="The warehouse definitions are checked against: duckdb:///path, "
        "postgresql://..., bigquery://, snowflake://, ... or 'none'",
    )
    warehouse_timeout_s: float = Field(30.0, gt=0, description="Statement timeout, seconds")
    warehouse_row_cap: int = Field(10_000, gt=0, description="Most rows read from one query")
    warehouse_allow_privileged_role: bool = Field(
        False,
        description="Let the warehouse role be a superuser or read server files (PostgreSQL "
        "refuses such a role at start otherwise); logged as a warning",
    )
    warehouse_memory_limit: str | None = Field(
        None, description="DuckDB memory_limit, e.g. '4GB' (default: a quarter of RAM)"
    )
    warehouse_temp_limit: str | None = Field(
        None,
        description="DuckDB max_temp_directory_size (default: twice the memory limit)",
    )
    warehouse_threads: int | None = Field(
        None, gt=0, description="DuckDB threads (default: one fewer than the cores)"
    )
    warehouse_query_labels: bool = Field(
        True,
        description="Label every warehouse statement with qualevents, the operation and the "
        "key id (Snowflake QUERY_TAG, BigQuery job labels, PostgreSQL/Redshift "
        "application_name, ClickHouse log_comment, Databricks query tags, Spark job tags)",
    )
    warehouse_maximum_bytes_billed: int | None = Field(
        None,
        gt=0,
        description="BigQuery: the most bytes one query may scan (maximum_bytes_billed); a "
        "query that would scan more is refused with a 400",
    )
    warehouse_concurrency: int = Field(
        8, gt=0, description="Warehouse threads (and DB-API connections) per process"
    )
    warehouse_requests_per_key: int = Field(
        4, gt=0, description="Concurrent warehouse requests one key may have; beyond: 429"
    )
    refuse_rows_to_read_only_keys: bool = Field(
        False, description="Answer 403 to preview, daily and analyses from read-only keys"
    )
    analysis_timeout_s: float = Field(
        600.0, gt=0, description="Longest an analysis job's warehouse work may run, seconds"
    )
    validation_memo_bytes: int = Field(
        64 * 2**20, ge=0, description="Bytes of static validation reports kept for reuse"
    )
    demo: bool = Field(False, description="Load the demo data set into the embedded DuckDB")
    max_body_bytes: int = Field(MAX_BODY_BYTES, gt=0)
    request_timeout_s: float = Field(60.0, gt=0, description="Longest a request may run")
    max_concurrent_requests: int = Field(
        256, gt=0, description="Requests served at once per process; more get a 503"
    )
    header_timeout_s: float = Field(
        10.0, gt=0, description="Longest a client may take to send a request's headers"
    )
    body_timeout_s: float = Field(
        10.0, gt=0, description="Longest a client may pause while sending a request's body"
    )
    keep_alive_s: int = Field(5, gt=0, description="Idle keep-alive connections close after")
    rate_limit: str = Field(
        "off",
        description="Per-key rate limit: 'off', 'statsig' (100/10s and 900/15min) or "
        "'N/SECONDS[,N/SECONDS...]'",
    )
    console_session_idle_hours: float = Field(
        12.0, gt=0, description="A web console session ends after this many idle hours"
    )
    log_level: str = "info"

    @field_validator("database_url")
    @classmethod
    def _normalize_database_url(cls, value: str) -> str:
        # Accept the plain postgresql:// scheme users copy from elsewhere; we speak psycopg 3.
        if value.startswith(("postgresql://", "postgres://")):
            return "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    def masked(self) -> dict[str, Any]:
        """The settings as they may be printed or logged: passwords replaced by ***."""
        values = self.model_dump()
        for key in ("database_url", "warehouse_url"):
            values[key] = mask_url(values[key])
        return values


def mask_url(url: str) -> str:
    """``scheme://user:***@host/db`` for a URL with a password; other URLs unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname or ''}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))
