"""The adapter registry: URL schemes, names, "did you mean", lazy drivers."""

from __future__ import annotations

import sys

import pytest
from sqlglot.dialects.dialect import Dialect

from qualevents.errors import ConfigurationError
from qualevents.warehouse import NAMES, get, get_or_raise, open_warehouse


def test_none_means_no_warehouse() -> None:
    assert open_warehouse("none") is None
    assert open_warehouse("NONE") is None


@pytest.mark.parametrize("name", NAMES)
def test_module_name_is_registry_key_is_name_is_dialect(name: str) -> None:
    adapter = get_or_raise(name)
    assert adapter.NAME == name == adapter.DIALECT
    assert adapter.__module__ == f"qualevents.warehouse.{name}"
    Dialect.get_or_raise(adapter.DIALECT)


def test_postgresql_scheme_is_an_alias() -> None:
    assert get("postgresql") is get("postgres")
    warehouse = open_warehouse("postgresql://u@localhost/db")
    assert warehouse is not None and warehouse.NAME == "postgres"


def test_unknown_scheme_suggests_a_close_one() -> None:
    assert get("snowflak") is None
    with pytest.raises(ConfigurationError) as caught:
        open_warehouse("snowflak://me@acct/db")
    assert "Did you mean 'snowflake'?" in caught.value.message


def test_not_a_url() -> None:
    with pytest.raises(ConfigurationError):
        open_warehouse("warehouse.duckdb")


DRIVERS = {
    "bigquery": ("bigquery://my-project/analytics", "google.cloud.bigquery"),
    "snowflake": ("snowflake://me:pw@acct/db/public?warehouse=WH", "snowflake.connector"),
    "databricks": ("databricks://token:dapi@host/sql/1.0/warehouses/x", "databricks.sql"),
    "redshift": ("redshift://me:pw@cluster:5439/dev", "redshift_connector"),
    "trino": ("trino://me@host:8080/hive/default", "trino"),
    "clickhouse": ("clickhouse://me:pw@host:8443/db?secure=true", "clickhouse_connect"),
    "spark": ("spark://me:pw@host:15002?token=pw", "pyspark.sql.connect.session"),
}


@pytest.mark.parametrize("name", sorted(DRIVERS))
def test_opening_never_connects_and_a_missing_driver_names_the_extra(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, module = DRIVERS[name]
    warehouse = open_warehouse(url)  # no driver needed to open
    assert warehouse is not None and name == warehouse.NAME
    # The driver absent, whether or not this machine has it (CI installs them all): an
    # import of a module (or a submodule already loaded) set to None in sys.modules raises
    # ImportError.
    for loaded in [m for m in sys.modules if m == module or m.startswith(f"{module}.")]:
        monkeypatch.setitem(sys.modules, loaded, None)
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ConfigurationError) as caught:
        warehouse.query("SELECT 1 AS one")
    assert f"pip install 'qualevents[{name}]'" in caught.value.message
    assert "pw" not in caught.value.message.replace("qualevents", "")
