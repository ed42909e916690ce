"""Google BigQuery, through google-cloud-bigquery (``pip install 'qualevents[bigquery]'``).
Imports ``errors``, ``sql`` and ``warehouse.base``; the driver only when first used.

URL: ``bigquery://project[/dataset]?location=US&credentials_path=/path/key.json`` (without
``credentials_path``, Application Default Credentials). ``describe`` is a dry run: BigQuery
returns the schema and scans (and bills) nothing. Queries carry ``job_timeout_ms``; give the
service account only ``roles/bigquery.dataViewer`` and ``jobUser``; the read-only guard
runs before every statement.

Every job carries labels naming qualevents, the operation and the key id (``tool``,
``operation``, ``key_id``: the INFORMATION_SCHEMA.JOBS views and billing exports show
them) and, when ``QUALEVENTS_WAREHOUSE_MAXIMUM_BYTES_BILLED`` is set, that scan budget
(``maximum_bytes_billed``: BigQuery refuses a query that would scan more). Errors are
classified by google-api-core's classes, HTTP code and the error's ``reason``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

from qualevents.errors import ErrorItem, QualeventsError, SQLInvalid
from qualevents.warehouse.base import Warehouse, import_driver
from qualevents.warehouse.classify import Kind, class_name_kind
from qualevents.warehouse.options import STR, url_parts
from qualevents.warehouse.pool import Shared

# google-api-core error reasons and what they mean for the user.
TIMEOUT_REASONS = {"timeout", "jobTimeout"}
UNAVAILABLE_REASONS = {"quotaExceeded", "rateLimitExceeded", "backendError"}
REJECTED_REASONS = {"invalidQuery", "invalid", "notFound", "accessDenied", "duplicate"}
BUDGET_REASON = "bytesBilledLimitExceeded"


class BigQueryWarehouse(Warehouse):
    NAME = "bigquery"
    DIALECT = "bigquery"
    EXTRA = "bigquery"
    SUPPORTS_READ_ONLY_TRANSACTION = False
    SUPPORTS_STATEMENT_TIMEOUT = True
    OPTIONS = {"location": STR, "credentials_path": STR}

    def __init__(
        self,
        *,
        project: str | None = None,
        dataset: str | None = None,
        location: str | None = None,
        credentials_path: str | None = None,
        timeout_s: float = 30.0,
        row_cap: int = 10_000,
        client: Any = None,
        driver: Any = None,
    ) -> None:
        super().__init__(timeout_s=timeout_s, row_cap=row_cap)
        self.project, self.dataset, self.location = project, dataset, location
        self.credentials_path = credentials_path
        self.add_secret(credentials_path)
        # ``client`` and ``driver`` (the google.cloud.bigquery module) are for tests.
        self._driver = driver
        self._client: Shared[Any] = Shared(_close)
        if client is not None:
            self._client.set(client)

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float, row_cap: int) -> BigQueryWarehouse:
        parts, options = url_parts(url, cls.NAME, cls.OPTIONS)
        path = [unquote(p) for p in parts.path.split("/") if p]
        return cls(
            project=parts.hostname or None,
            dataset=path[0] if path else None,
            location=options.get("location"),
            credentials_path=options.get("credentials_path"),
            timeout_s=timeout_s,
            row_cap=row_cap,
        )

    def driver(self) -> Any:
        if self._driver is None:
            self._driver = import_driver(
                "google.cloud.bigquery", "bigquery", "google-cloud-bigquery"
            )
        return self._driver

    def _open_client(self) -> Any:
        bigquery = self.driver()
        with self.translate_errors():
            if self.credentials_path:
                return bigquery.Client.from_service_account_json(
                    self.credentials_path, project=self.project, location=self.location
                )
            return bigquery.Client(project=self.project, location=self.location)

    def client(self) -> Any:
        return self._client.get(self._open_client)

    def _job_config(self, **options: Any) -> Any:
        bigquery = self.driver()
        if self.dataset and self.project:
            options["default_dataset"] = f"{self.project}.{self.dataset}"
        label = self.label()
        labels = label.pairs("describe" if options.get("dry_run") else "query") if label else {}
        if self.maximum_bytes_billed:
            options["maximum_bytes_billed"] = int(self.maximum_bytes_billed)
        return bigquery.QueryJobConfig(labels={"tool": "qualevents", **labels}, **options)

    def classify(self, error: Exception) -> Kind:
        reason = _reason(error)
        code = getattr(error, "code", None)
        if reason in TIMEOUT_REASONS or code == 504:
            return "timeout"
        if reason in REJECTED_REASONS or reason == BUDGET_REASON:
            return "rejected"
        if reason in UNAVAILABLE_REASONS or code in (401, 429, 502, 503):
            return "unavailable"
        if code in (400, 404):
            return "rejected"
        if code == 403:
            return "unavailable"
        if type(error).__name__.endswith("CredentialsError"):
            return "unavailable"
        return class_name_kind(error)

    def driver_message(self, error: Exception) -> str:
        """The first error's message (google-api-core's text starts with the HTTP method
        and the job's URL)."""
        errors = getattr(error, "errors", None) or []
        first = errors[0] if errors and isinstance(errors[0], dict) else {}
        return self.scrub(str(first.get("message") or getattr(error, "message", error)))

    def translate(self, error: Exception) -> QualeventsError:
        if _reason(error) == BUDGET_REASON:
            message = (
                f"The bigquery query would scan more than the {self.maximum_bytes_billed} "
                f"bytes allowed (QUALEVENTS_WAREHOUSE_MAXIMUM_BYTES_BILLED): "
                f"{self.driver_message(error)}"
            )
            return SQLInvalid(message, [ErrorItem(("sql",), message)])
        return super().translate(error)

    def _describe(self, sql: str) -> list[tuple[str, str]]:
        config = self._job_config(dry_run=True, use_query_cache=False)
        job = self.client().query(sql, job_config=config, timeout=self.timeout_s)
        return [(field.name, field.field_type) for field in job.schema or []]

    def _fetch(self, sql: str, limit: int) -> tuple[list[str], Sequence[Sequence[Any]]]:
        timeout_s = self.statement_timeout_s()  # an analysis job's own, in its scope
        config = self._job_config(job_timeout_ms=max(1, int(timeout_s * 1000)))
        job = self.client().query(sql, job_config=config, timeout=timeout_s)
        rows = job.result(max_results=limit, timeout=timeout_s)
        names = [field.name for field in rows.schema]
        return names, [tuple(row.values()) for row in rows]

    def close(self) -> None:
        self._client.close()


def _reason(error: Exception) -> str | None:
    errors = getattr(error, "errors", None) or []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    return first.get("reason")


def _close(client: Any) -> None:
    if hasattr(client, "close"):
        client.close()


WAREHOUSE = BigQueryWarehouse
