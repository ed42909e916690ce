"""Warehouse URL options reach the drivers typed: booleans as ``True``/``False`` (a string
``"false"`` is truthy, and redshift_connector checks ``ssl is True``), numbers as numbers;
an option an adapter does not declare is refused by name, on every adapter. The adapters
are built from URLs and their ``connect`` is handed a recorder in place of the driver
module (no network). Also: the shared message scrub drops ``CONTEXT:`` lines."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from qualevents.errors import ConfigurationError
from qualevents.warehouse import NAMES, open_warehouse

URLS = {
    "duckdb": "duckdb:///:memory:",
    "postgres": "postgresql://u@localhost:5432/db",
    "bigquery": "bigquery://project/dataset",
    "snowflake": "snowflake://me:pw@acct/db/public",
    "databricks": "databricks://token:dapi@host.cloud/sql/1.0/warehouses/x",
    "redshift": "redshift://me:pw@cluster.aws:5439/dev",
    "trino": "trino://me@host:8080/hive/default",
    "clickhouse": "clickhouse://default@localhost/db",
    "spark": "spark://localhost:15002",
}


class Recorder:
    """Stands in for a driver module: records the keyword arguments of ``connect``."""

    def __init__(self) -> None:
        self.kwargs: dict[str, Any] = {}
        self.auth = SimpleNamespace(BasicAuthentication=lambda *a: ("basic", a))

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        self.kwargs = kwargs
        return SimpleNamespace(autocommit=False)

    get_client = connect


def driver_kwargs(url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    warehouse = open_warehouse(url)
    assert warehouse is not None
    module = __import__(type(warehouse).__module__, fromlist=["import_driver"])
    recorder = Recorder()
    monkeypatch.setattr(module, "import_driver", lambda name, *_: recorder)
    if hasattr(warehouse, "_connect"):
        warehouse._connect()
    else:
        warehouse._open_client()
    return recorder.kwargs


@pytest.mark.parametrize("name", NAMES)
def test_an_unknown_option_is_refused_by_name(name: str) -> None:
    separator = "&" if "?" in URLS[name] else "?"
    with pytest.raises(ConfigurationError) as refused:
        open_warehouse(f"{URLS[name]}{separator}sslmdoe_typo=1")
    assert "'sslmdoe_typo'" in refused.value.message
    assert "accepted:" in refused.value.message
    assert refused.value.errors[0].loc == ("warehouse_url",)


def test_redshift_ssl_true_reaches_the_driver_as_true(monkeypatch: pytest.MonkeyPatch) -> None:
    kwargs = driver_kwargs(f"{URLS['redshift']}?ssl=true&timeout=15", monkeypatch)
    assert kwargs["ssl"] is True
    assert kwargs["timeout"] == 15
    kwargs = driver_kwargs(f"{URLS['redshift']}?ssl=0", monkeypatch)
    assert kwargs["ssl"] is False


def test_databricks_tls_no_verify_false_reaches_the_driver_as_false(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kwargs = driver_kwargs(f"{URLS['databricks']}?_tls_no_verify=false&catalog=main", monkeypatch)
    assert kwargs["_tls_no_verify"] is False
    assert kwargs["catalog"] == "main"


def test_trino_verify_false_is_false_and_a_path_stays_a_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert driver_kwargs(f"{URLS['trino']}?verify=false", monkeypatch)["verify"] is False
    assert driver_kwargs(f"{URLS['trino']}?verify=FALSE", monkeypatch)["verify"] is False
    kwargs = driver_kwargs(f"{URLS['trino']}?verify=/etc/ssl/ca.pem", monkeypatch)
    assert kwargs["verify"] == "/etc/ssl/ca.pem"


def test_clickhouse_booleans_and_numbers_are_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    kwargs = driver_kwargs(
        f"{URLS['clickhouse']}?secure=true&verify=false&connect_timeout=2.5", monkeypatch
    )
    assert kwargs["secure"] is True and kwargs["verify"] is False
    assert kwargs["connect_timeout"] == 2.5 and kwargs["port"] == 8443


def test_snowflake_numbers_and_booleans_are_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    kwargs = driver_kwargs(
        f"{URLS['snowflake']}?warehouse=WH&network_timeout=20&insecure_mode=false", monkeypatch
    )
    assert kwargs["network_timeout"] == 20 and kwargs["insecure_mode"] is False
    assert kwargs["warehouse"] == "WH"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"{URLS['redshift']}?ssl=yes", "'ssl': expected true, false, 1 or 0"),
        (f"{URLS['redshift']}?timeout=soon", "'timeout': expected a whole number"),
        (f"{URLS['duckdb']}?read_only=maybe", "'read_only': expected true, false, 1 or 0"),
        (f"{URLS['postgres']}?connect_timeout=x", "'connect_timeout': expected a whole number"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused(url: str, expected: str) -> None:
    with pytest.raises(ConfigurationError, match=expected):
        open_warehouse(url)


def test_duckdb_read_only_is_typed() -> None:
    warehouse = open_warehouse("duckdb:///./wh.duckdb?read_only=0")
    assert warehouse is not None and warehouse.read_only is False  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["redshift", "snowflake", "trino", "databricks"])
def test_driver_messages_lose_their_context_lines(name: str) -> None:
    """Function source (PostgreSQL-style ``CONTEXT:`` lines) never reaches a message, on
    the drivers still classified by the shared default too."""
    warehouse = open_warehouse(URLS[name])
    assert warehouse is not None
    text = "boom 42\nCONTEXT:  PL/pgSQL function secret_fn() line 3 at RAISE\nmore source"
    assert warehouse.scrub(text) == "boom 42"
