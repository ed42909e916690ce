"""Each adapter's error classification fed with its driver's own exception objects,
constructed as the driver constructs them (Trino's from the server's error document through
the client's own ``_process_error``; redshift_connector's from the server's error fields;
google-api-core's from an HTTP status and the job's ``errors``): the warehouses with no
engine here (Trino, Databricks, BigQuery) are classified by the same code that meets the
real ones, and the rest are pinned beside their real-engine tests
(tests/warehouse/test_conformance.py).

The bugs these pin: a missing column named ``user_timeout`` was a 504 (timeouts were found
by substring); Trino's ``EXCEEDED_TIME_LIMIT`` was a 400; Databricks'
``ServerOperationError``, Trino's ``TrinoUserError`` and ClickHouse's ``DatabaseError`` were
generic failures that validation turned into a static pass; Redshift's messages were the
driver's dict with the server's source file and line.
"""

from __future__ import annotations

import concurrent.futures
import re
from typing import Any

import pytest

from qualevents.errors import (
    QualeventsError,
    SQLInvalid,
    WarehouseError,
    WarehouseTimeout,
    WarehouseUnavailable,
)
from qualevents.models import IdTypeMapping, QualifyingEvent
from qualevents.validation import Validator
from qualevents.warehouse import open_warehouse
from qualevents.warehouse.base import Warehouse

URLS = {
    "trino": "trino://me@host:8080/hive/default",
    "databricks": "databricks://token:dapiSecret123@host.cloud/sql/1.0/warehouses/x",
    "bigquery": "bigquery://shoppy-sales/logging",
    "snowflake": "snowflake://me:Pw-Secret-1@acct/db/public",
    "redshift": "redshift://me:Pw-Secret-1@cluster.aws:5439/dev",
    "clickhouse": "clickhouse://default@localhost/db",
    "spark": "spark://localhost:15002",
}
UNCLEAN = re.compile(r"\{'|\.(?:c|cpp|scala|java)\b|JVM|\bat org\.|query_id|Pw-Secret|dapi")


def adapter(name: str) -> Warehouse:
    warehouse = open_warehouse(URLS[name], timeout_s=7)
    assert warehouse is not None
    return warehouse


def translated(name: str, error: Exception) -> QualeventsError:
    found = adapter(name).translate(error)
    assert not UNCLEAN.search(found.message), found.message
    return found


# -- the drivers' exceptions, built as the drivers build them ------------------------------


def trino_error(document: dict[str, Any]) -> Exception:
    from trino.client import TrinoRequest

    try:
        return TrinoRequest._process_error(document, "20240301_000000_00001_abcde")
    except Exception as raised:  # EXTERNAL errors are raised rather than returned
        return raised


def redshift_error(fields: dict[str, str]) -> Exception:
    from redshift_connector.error import InterfaceError, ProgrammingError

    return (InterfaceError if fields["C"] == "28000" else ProgrammingError)(fields)


def google_error(status: int, reason: str, message: str) -> Exception:
    from google.api_core import exceptions

    return exceptions.from_http_status(
        status,
        f"POST https://bigquery.googleapis.com/bigquery/v2/projects/p/jobs: {message}",
        errors=[{"reason": reason, "message": message, "location": "q"}],
    )


def databricks_error(message: str) -> Exception:
    from databricks.sql.exc import ServerOperationError

    return ServerOperationError(
        message,
        {
            "operation-id": "01ef-abc",
            "diagnostic-info": "org.apache.spark.sql.AnalysisException: ...\n\tat org.apache"
            ".spark.sql.Foo(Foo.scala:12)",
        },
    )


def snowflake_error(errno: int, sqlstate: str, message: str) -> Exception:
    from snowflake.connector.errors import ProgrammingError

    return ProgrammingError(msg=message, errno=errno, sqlstate=sqlstate, send_telemetry=False)


def clickhouse_error(code: int, name: str, message: str) -> Exception:
    from clickhouse_connect.driver.exceptions import DatabaseError

    text = f"Code: {code}. DB::Exception: {message}. ({name}) (version 24.3.1.1)"
    return DatabaseError(text, code=code, name=name)


def spark_error(error_class: str, sql_state: str, message: str) -> Exception:
    from pyspark.errors.exceptions.connect import AnalysisException, SparkConnectGrpcException

    kind = AnalysisException if sql_state.startswith("42") else SparkConnectGrpcException
    return kind(
        message=f"[{error_class}] {message} SQLSTATE: {sql_state};\n'Project ['x]\n\n"
        "JVM stacktrace:\norg.apache.spark.sql.AnalysisException\n\tat org.apache.spark.X",
        errorClass=error_class,
        sql_state=sql_state,
    )


DRIVERS = {
    "trino": "trino",
    "databricks": "databricks.sql",
    "bigquery": "google.cloud.bigquery",
    "snowflake": "snowflake.connector",
    "redshift": "redshift_connector",
    "clickhouse": "clickhouse_connect",
    "spark": "pyspark.sql.connect.session",
}


def missing_column(name: str) -> Exception:
    return {
        "trino": lambda: trino_error(
            {
                "message": "line 1:8: Column 'user_timeout' cannot be resolved",
                "errorCode": 47,
                "errorName": "COLUMN_NOT_FOUND",
                "errorType": "USER_ERROR",
                "errorLocation": {"lineNumber": 1, "columnNumber": 8},
            }
        ),
        "databricks": lambda: databricks_error(
            "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter "
            "with name `user_timeout` cannot be resolved. SQLSTATE: 42703; line 1 pos 7"
        ),
        "bigquery": lambda: google_error(
            400, "invalidQuery", "Unrecognized name: user_timeout at [1:8]"
        ),
        "snowflake": lambda: snowflake_error(
            904, "42000", "SQL compilation error: invalid identifier 'USER_TIMEOUT'"
        ),
        "redshift": lambda: redshift_error(
            {
                "S": "ERROR",
                "C": "42703",
                "M": 'column "user_timeout" does not exist',
                "F": "parse_relation.c",
                "L": "3665",
                "R": "errorMissingColumn",
            }
        ),
        "clickhouse": lambda: clickhouse_error(
            47, "UNKNOWN_IDENTIFIER", "Missing columns: 'user_timeout' while processing query"
        ),
        "spark": lambda: spark_error(
            "UNRESOLVED_COLUMN.WITHOUT_SUGGESTION",
            "42703",
            "A column with name `user_timeout` cannot be resolved.",
        ),
    }[name]()


def missing_table(name: str) -> Exception:
    return {
        "trino": lambda: trino_error(
            {
                "message": "line 1:15: Table 'hive.default.nope' does not exist",
                "errorCode": 46,
                "errorName": "TABLE_NOT_FOUND",
                "errorType": "USER_ERROR",
            }
        ),
        "databricks": lambda: databricks_error(
            "[TABLE_OR_VIEW_NOT_FOUND] The table or view `nope` cannot be found. "
            "SQLSTATE: 42P01; line 1 pos 14"
        ),
        "bigquery": lambda: google_error(404, "notFound", "Not found: Table p:logging.nope"),
        "snowflake": lambda: snowflake_error(
            2003, "42S02", "SQL compilation error: Object 'NOPE' does not exist"
        ),
        "redshift": lambda: redshift_error(
            {"S": "ERROR", "C": "42P01", "M": 'relation "nope" does not exist', "F": "x.c"}
        ),
        "clickhouse": lambda: clickhouse_error(60, "UNKNOWN_TABLE", "Table db.nope does not exist"),
        "spark": lambda: spark_error(
            "TABLE_OR_VIEW_NOT_FOUND", "42P01", "The table or view `nope` cannot be found."
        ),
    }[name]()


def server_timeout(name: str) -> Exception:
    return {
        "trino": lambda: trino_error(
            {
                "message": "Query exceeded the maximum execution time limit of 7.00s",
                "errorCode": 131075,
                "errorName": "EXCEEDED_TIME_LIMIT",
                "errorType": "INSUFFICIENT_RESOURCES",
            }
        ),
        "databricks": lambda: databricks_error(
            "[QUERY_EXECUTION_TIMEOUT_EXCEEDED] The execution of the query was cancelled due "
            "to exceeding the timeout (7s). SQLSTATE: 57KD0"
        ),
        "bigquery": lambda: concurrent.futures.TimeoutError(),
        "snowflake": lambda: snowflake_error(
            630,
            "57014",
            "Statement reached its statement or warehouse timeout of 7 second(s) and was canceled.",
        ),
        "redshift": lambda: redshift_error(
            {"S": "ERROR", "C": "57014", "M": "canceling statement due to statement timeout"}
        ),
        "clickhouse": lambda: clickhouse_error(
            159, "TIMEOUT_EXCEEDED", "Timeout exceeded: elapsed 7.1 seconds, maximum: 7"
        ),
        "spark": lambda: spark_error("OPERATION_CANCELED", "HY008", "Operation has been canceled."),
    }[name]()


@pytest.fixture(params=sorted(URLS))
def name(request: pytest.FixtureRequest) -> str:
    try:
        __import__(DRIVERS[request.param])
    except ImportError:
        pytest.skip(f"{DRIVERS[request.param]} is not installed: pip install 'qualevents[...]'")
    return request.param


def test_a_missing_column_named_like_a_timeout_is_the_querys_fault(name: str) -> None:
    found = translated(name, missing_column(name))
    assert isinstance(found, SQLInvalid), found
    assert "user_timeout" in found.message.lower()
    assert found.errors[0].loc == ("sql",)


def test_a_missing_table_is_the_querys_fault(name: str) -> None:
    found = translated(name, missing_table(name))
    assert isinstance(found, SQLInvalid), found
    assert "nope" in found.message.lower()


def test_the_servers_timeout_is_a_timeout(name: str) -> None:
    found = translated(name, server_timeout(name))
    assert isinstance(found, WarehouseTimeout), found
    assert found.status == 504


def test_redshift_messages_are_the_servers_message_not_the_drivers_dict() -> None:
    pytest.importorskip("redshift_connector")
    found = translated("redshift", missing_column("redshift"))
    assert found.message == (
        'The redshift warehouse rejected the query: column "user_timeout" does not exist'
    )


def test_trino_and_databricks_failures_of_the_server_are_502s() -> None:
    pytest.importorskip("trino")
    external = trino_error(
        {
            "message": "Error listing partitions",
            "errorName": "HIVE_METASTORE_ERROR",
            "errorType": "EXTERNAL",
        }
    )
    found = translated("trino", external)
    assert type(found) is WarehouseError and "HIVE_METASTORE_ERROR" in found.message
    from trino.exceptions import TrinoConnectionError

    assert isinstance(translated("trino", TrinoConnectionError("refused")), WarehouseUnavailable)


def test_databricks_message_leaves_out_the_diagnostic_stack() -> None:
    pytest.importorskip("databricks.sql")
    found = translated("databricks", missing_table("databricks"))
    assert "SQLSTATE: 42P01" in found.message and "Foo.scala" not in found.message


def test_bigquery_budget_and_quota() -> None:
    pytest.importorskip("google.cloud.bigquery")
    warehouse = adapter("bigquery")
    warehouse.maximum_bytes_billed = 10_000_000
    budget = warehouse.translate(
        google_error(
            400,
            "bytesBilledLimitExceeded",
            "Query exceeded limit for bytes billed: 10000000. 20971520 or higher required.",
        )
    )
    assert isinstance(budget, SQLInvalid)
    assert "QUALEVENTS_WAREHOUSE_MAXIMUM_BYTES_BILLED" in budget.message
    quota = warehouse.translate(google_error(403, "rateLimitExceeded", "Exceeded rate limits"))
    assert isinstance(quota, WarehouseUnavailable)
    assert "googleapis" not in quota.message


# -- validation: a warehouse that answered never becomes a static pass ----------------------


class Answering:
    """A DB-API connection whose statements fail with ``error`` (the real driver class)."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.closed = False

    def cursor(self) -> Answering:
        return self

    def execute(self, sql: str, *args: Any, **options: Any) -> None:
        raise self.error

    def close(self) -> None:
        self.closed = True


EVENT = QualifyingEvent(
    name="e",
    sql="SELECT ts, user_id, user_timeout FROM hive.default.events",
    timestamp_column="ts",
    id_type_mapping=[IdTypeMapping(statsig_unit_id="userID", column="user_id")],
)


def trino_warehouse(error: Exception) -> Warehouse:
    from qualevents.warehouse.trino import TrinoWarehouse

    return TrinoWarehouse(connection=Answering(error), host="h", user="u", timeout_s=7)


def test_validation_fails_when_the_warehouse_rejects_the_query() -> None:
    pytest.importorskip("trino")
    report = Validator(trino_warehouse(missing_column("trino"))).validate(EVENT)
    assert not report.valid and report.mode == "warehouse"
    assert "user_timeout" in report.errors[0].message


@pytest.mark.parametrize(
    ("document", "raised"),
    [
        (
            {
                "message": "Metastore down",
                "errorName": "HIVE_METASTORE_ERROR",
                "errorType": "EXTERNAL",
            },
            WarehouseError,
        ),
        (
            {
                "message": "too slow",
                "errorName": "EXCEEDED_TIME_LIMIT",
                "errorType": "INSUFFICIENT_RESOURCES",
            },
            WarehouseTimeout,
        ),
    ],
)
def test_validation_raises_when_the_warehouse_fails_instead_of_passing_statically(
    document: dict[str, Any], raised: type[WarehouseError]
) -> None:
    pytest.importorskip("trino")
    with pytest.raises(raised) as caught:
        Validator(trino_warehouse(trino_error(document))).validate(EVENT)
    assert not isinstance(caught.value, WarehouseUnavailable)


# -- the case: `qualevents validate` on ClickHouse with a missing column ----------


def test_cli_validate_exits_1_for_a_missing_column_on_clickhouse(chdb_url: str, tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from qualevents.cli import app

    body = {
        "name": "Log Events",
        "sql": "SELECT ts, user_id, user_timeout FROM conformance.events",
        "timestampColumn": "ts",
        "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
    }
    path = tmp_path / "event.json"
    path.write_text(json.dumps(body))
    result = CliRunner().invoke(
        app,
        [
            "validate",
            str(path),
            "--warehouse-url",
            chdb_url,
            "--database-url",
            f"sqlite:///{tmp_path / 'q.db'}",
        ],
        env={"QUALEVENTS_DATABASE_URL": "sqlite:///unused"},
    )
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    text = " ".join(result.stdout.split())
    assert "valid: no" in text, (result.stdout, result.stderr)
    assert "valid: no" in text and "mode: warehouse" in text and "user_timeout" in text
