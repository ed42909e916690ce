"""Validator: the whole pipeline against the DuckDB demo data (Statsig's own examples), the
static and declared modes, the fallback when the warehouse is down, and preview/daily
numbers checked against hand-written DuckDB SQL."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from qualevents.errors import ErrorItem, SQLInvalid, WarehouseUnavailable
from qualevents.models import CustomFieldMapping, IdTypeMapping, QualifyingEvent, SourceType
from qualevents.validation import ValidationReport, Validator, jsonable
from qualevents.warehouse import open_warehouse
from qualevents.warehouse.demo import load_demo
from qualevents.warehouse.duckdb import DuckDBWarehouse

TODAY = date.today()
EVENTS = 60_000
USER = IdTypeMapping(statsig_unit_id="userID", column="user_id")
DEVICE = IdTypeMapping(statsig_unit_id="deviceID", column="device_id")
SEED_EXAMPLE = QualifyingEvent(
    name="purchases",
    sql="SELECT * FROM `shoppy-sales.logging.events`",
    timestamp_column="ts",
    id_type_mapping=[USER],
)
LIST_EXAMPLE = QualifyingEvent(
    name="list",
    sql="SELECT *\nFROM shoppy-sales.logging.events\n"
    "where DATE(ts) between {statsig_start_date} and {statsig_end_date}\n",
    timestamp_column="ts",
    id_type_mapping=[USER, DEVICE],
    custom_field_mapping=[CustomFieldMapping(key="", formula="")],
)
TABLE_SOURCE = QualifyingEvent(
    name="table",
    sql="",
    source_type=SourceType.TABLE,
    table_name="`shoppy-sales.logging.events`",
    timestamp_column="ts",
    id_type_mapping=[USER],
)


@pytest.fixture(scope="module")
def demo() -> Iterator[DuckDBWarehouse]:
    warehouse = DuckDBWarehouse()
    load_demo(warehouse, events=EVENTS, today=TODAY)
    yield warehouse
    warehouse.close()


@pytest.fixture
def validator(demo: DuckDBWarehouse) -> Validator:
    return Validator(demo)


def by_loc(items: list[ErrorItem]) -> dict[tuple, str]:
    return {item.loc: item.message for item in items}


# -- Statsig's examples against the demo data ------------------------------------------


def test_seed_example_validates(validator: Validator) -> None:
    report = validator.validate(SEED_EXAMPLE)
    assert report.valid, report.errors
    assert report.mode == "warehouse"
    assert report.errors == [] and report.warnings == []
    assert [c.name for c in report.columns] == [
        "ts",
        "user_id",
        "device_id",
        "event_name",
        "country",
        "platform",
        "price_usd",
    ]
    assert report.compiled_sql == 'SELECT * FROM "shoppy-sales".logging.events'


def test_list_example_validates_with_its_macros(validator: Validator) -> None:
    report = validator.validate(LIST_EXAMPLE)
    assert report.valid, report.errors
    assert "{statsig" not in report.compiled_sql
    assert "CAST(ts AS DATE) BETWEEN CAST(" in report.compiled_sql


def test_table_source_with_backticked_name_validates(validator: Validator) -> None:
    report = validator.validate(TABLE_SOURCE)
    assert report.valid, report.errors
    assert report.compiled_sql == 'SELECT * FROM "shoppy-sales".logging.events'


def test_to_dict_is_the_wire_shape(validator: Validator) -> None:
    report = validator.validate(SEED_EXAMPLE.model_copy(update={"timestamp_column": "when"}))
    wire = report.to_dict(lambda item: {"property": list(item.loc), "errorMessage": item.message})
    assert set(wire) == {"valid", "errors", "warnings", "columns", "mode", "compiledSql"}
    assert wire["valid"] is False
    assert wire["errors"][0]["property"] == ["timestamp_column"]
    assert wire["columns"][0] == {"name": "ts", "type": "timestamp"}


# -- each check, through the whole pipeline --------------------------------------------


def test_checks_report_every_problem_at_once(validator: Validator) -> None:
    event = LIST_EXAMPLE.model_copy(
        update={
            "timestamp_column": "created_at",
            "id_type_mapping": [USER, IdTypeMapping(statsig_unit_id="stableID", column="stable")],
            "custom_field_mapping": [
                CustomFieldMapping(key="revenue", formula="SUM(price_usd)"),
                CustomFieldMapping(key="cents", formula="price_usd * 100"),
                CustomFieldMapping(key="kind", formula="event_nam"),
            ],
        }
    )
    report = validator.validate(event)
    assert not report.valid
    found = by_loc(report.errors)
    assert set(found) == {
        ("timestamp_column",),
        ("id_type_mapping", 1, "column"),
        ("custom_field_mapping", 0, "formula"),
        ("custom_field_mapping", 2, "formula"),
    }
    assert found[("timestamp_column",)].startswith(
        "timestampColumn 'created_at' is not among the query's columns: ts, user_id, device_id"
    )
    assert "Did you mean 'event_name'?" in found[("custom_field_mapping", 2, "formula")]


def test_wrong_timestamp_type(validator: Validator) -> None:
    number = validator.validate(SEED_EXAMPLE.model_copy(update={"timestamp_column": "price_usd"}))
    assert "has type DOUBLE" in by_loc(number.errors)[("timestamp_column",)]
    text = validator.validate(SEED_EXAMPLE.model_copy(update={"timestamp_column": "country"}))
    assert text.valid and "string column" in by_loc(text.warnings)[("timestamp_column",)]


def test_syntax_error_carries_line_and_column(validator: Validator) -> None:
    report = validator.validate(
        SEED_EXAMPLE.model_copy(update={"sql": "SELECT *\nFROM events WHERE AND x"})
    )
    assert not report.valid
    (item,) = report.errors
    assert item.loc == ("sql",) and item.extra["line"] == 2


@pytest.mark.parametrize(
    ("sql", "found"),
    [
        ("DELETE FROM `shoppy-sales.logging.events`", "found DELETE"),
        ("DROP TABLE x", "found DROP TABLE"),
        ("SELECT 1; DROP TABLE x", "found 2 statements"),
        ("SELECT 1 /* ok */; -- really\nDELETE FROM x", "found 2 statements"),
    ],
)
def test_read_only_guard(validator: Validator, sql: str, found: str) -> None:
    report = validator.validate(SEED_EXAMPLE.model_copy(update={"sql": sql}))
    assert not report.valid
    assert found in by_loc(report.errors)[("sql",)]


def test_unknown_table_is_reported_by_the_warehouse(validator: Validator) -> None:
    report = validator.validate(SEED_EXAMPLE.model_copy(update={"sql": "SELECT * FROM nowhere"}))
    assert not report.valid and report.mode == "warehouse"
    assert "nowhere" in by_loc(report.errors)[("sql",)]


# -- static and declared modes ---------------------------------------------------------


def test_static_mode_checks_named_columns() -> None:
    validator = Validator(None, dialect="postgres")
    good = SEED_EXAMPLE.model_copy(
        update={"sql": "SELECT user_id, CAST(created AS TIMESTAMP) AS ts FROM shoppy-sales.l.e"}
    )
    report = validator.validate(good)
    assert report.valid and report.mode == "static"
    assert any("No warehouse is configured" in w.message for w in report.warnings)
    bad = good.model_copy(update={"timestamp_column": "created"})
    assert not validator.validate(bad).valid


def test_static_mode_with_a_star_skips_column_checks_loudly() -> None:
    report = Validator(None).validate(LIST_EXAMPLE)
    assert report.valid and report.mode == "static"
    skipped = by_loc(report.warnings)
    assert "selects *" in skipped[("sql",)]
    assert "could not be checked" in skipped[("timestamp_column",)]
    assert "could not be checked" in skipped[("id_type_mapping", 1, "column")]


def test_static_mode_still_guards_and_parses() -> None:
    report = Validator(None).validate(SEED_EXAMPLE.model_copy(update={"sql": "DELETE FROM t"}))
    assert not report.valid and report.mode == "static"


def test_declared_mode_uses_the_declared_schema(demo: DuckDBWarehouse) -> None:
    declared = SEED_EXAMPLE.model_copy(
        update={
            "sql": "SELECT * FROM not_in_this_warehouse",
            "skip_validation": True,
            "all_columns": ["ts", "user_id"],
            "column_types": ["TIMESTAMP", "VARCHAR"],
        }
    )
    report = Validator(demo).validate(declared)
    assert report.valid and report.mode == "declared"
    assert [(c.name, c.type) for c in report.columns] == [
        ("ts", "timestamp"),
        ("user_id", "string"),
    ]
    wrong = declared.model_copy(update={"column_types": ["VARCHAR", "VARCHAR"]})
    assert Validator(demo).validate(wrong).warnings  # a string timestamp: a warning
    missing = declared.model_copy(update={"all_columns": ["when", "user_id"]})
    assert not Validator(demo).validate(missing).valid


def test_unreachable_warehouse_falls_back_to_static_and_says_so() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    warehouse = open_warehouse(f"postgresql://bob:Hunter2pw@127.0.0.1:{port}/db")
    report = Validator(warehouse).validate(SEED_EXAMPLE)
    assert report.mode == "static"
    notes = " ".join(w.message for w in report.warnings)
    assert "could not be asked" in notes and "Hunter2pw" not in notes


# -- preview and daily against hand-written SQL -----------------------------------------

EVENTS_TABLE = '"shoppy-sales".logging.events'


def test_preview_returns_the_latest_rows_json_safe(
    validator: Validator, demo: DuckDBWarehouse
) -> None:
    event = LIST_EXAMPLE.model_copy(
        update={
            "custom_field_mapping": [CustomFieldMapping(key="cents", formula="price_usd * 100")]
        }
    )
    rows = validator.preview(event, limit=5, days=3, today=TODAY)
    since = TODAY - timedelta(days=2)
    expected = demo.query(
        f"SELECT user_id, device_id, ts, price_usd * 100 AS cents FROM {EVENTS_TABLE} "
        f"WHERE ts >= TIMESTAMP '{since} 00:00:00' AND ts < TIMESTAMP '{TODAY + timedelta(1)}' "
        "ORDER BY ts DESC LIMIT 5"
    )
    assert [r["ts"] for r in rows] == [r["ts"].isoformat() for r in expected]
    assert rows == [jsonable(r) for r in expected]
    assert set(rows[0]) == {"user_id", "device_id", "ts", "cents"}


def test_daily_matches_hand_written_sql(validator: Validator, demo: DuckDBWarehouse) -> None:
    start, end = TODAY - timedelta(days=9), TODAY - timedelta(days=2)
    days = validator.daily(LIST_EXAMPLE, start, end)
    expected = demo.query(
        "SELECT CAST(ts AS DATE) AS day, COUNT(*) AS events, COUNT(DISTINCT user_id) AS users, "
        f"COUNT(DISTINCT device_id) AS devices FROM {EVENTS_TABLE} "
        f"WHERE CAST(ts AS DATE) BETWEEN DATE '{start}' AND DATE '{end}' GROUP BY 1 ORDER BY 1"
    )
    assert days == [
        {
            "date": row["day"].isoformat(),
            "events": row["events"],
            "units": {"userID": row["users"], "deviceID": row["devices"]},
        }
        for row in expected
    ]
    assert len(days) == 8 and sum(d["events"] for d in days) > 0


def test_daily_only_lists_days_with_events(validator: Validator) -> None:
    future = validator.daily(SEED_EXAMPLE, TODAY + timedelta(days=5), TODAY + timedelta(days=9))
    assert future == []


def test_daily_on_a_partitioned_table_source(validator: Validator, demo: DuckDBWarehouse) -> None:
    # The demo table has no date partition column; ts stands in for one. The partition
    # filter (BETWEEN the first and last day as DATEs) is pushed into the table scan.
    event = TABLE_SOURCE.model_copy(update={"date_partition_column": "ts"})
    start, end = TODAY - timedelta(days=3), TODAY
    assert "ts BETWEEN" in validator.compile(event, start, end)
    days = validator.daily(event, start, end)
    (count,) = demo.query(
        f"SELECT COUNT(*) AS n FROM {EVENTS_TABLE} "
        f"WHERE ts BETWEEN DATE '{start}' AND DATE '{end}' "
        f"AND ts >= TIMESTAMP '{start}' AND ts < TIMESTAMP '{end + timedelta(1)}'"
    )
    assert sum(d["events"] for d in days) == count["n"]


def test_daily_with_a_missing_timestamp_column_says_which(validator: Validator) -> None:
    with pytest.raises(SQLInvalid) as caught:
        validator.daily(SEED_EXAMPLE.model_copy(update={"timestamp_column": "tss"}), TODAY, TODAY)
    assert "Did you mean 'ts'?" in caught.value.errors[0].message


@pytest.mark.parametrize(
    "change",
    [
        {"timestamp_column": "tss"},
        {"id_type_mapping": [IdTypeMapping(statsig_unit_id="userID", column="user_idd")]},
        {"timestamp_column": "price_usd"},  # a number, not a timestamp
    ],
    ids=["timestamp", "unit id", "timestamp type"],
)
def test_preview_and_daily_report_a_bad_column_as_validation_does(
    validator: Validator, change: dict
) -> None:
    """One column check: preview and daily refuse with exactly the errors a create's
    validation reports (same messages, same places), not with wording of their own."""
    event = SEED_EXAMPLE.model_copy(update=change)
    report = validator.validate(event, today=TODAY)
    assert not report.valid
    expected = [(item.loc, item.message) for item in report.errors]
    for run in (
        lambda: validator.preview(event, limit=5, today=TODAY),
        lambda: validator.daily(event, TODAY, TODAY),
    ):
        with pytest.raises(SQLInvalid) as caught:
            run()
        assert [(item.loc, item.message) for item in caught.value.errors] == expected


def test_preview_and_daily_need_a_warehouse() -> None:
    with pytest.raises(WarehouseUnavailable):
        Validator(None).preview(SEED_EXAMPLE)
    with pytest.raises(WarehouseUnavailable):
        Validator(None).daily(SEED_EXAMPLE, TODAY, TODAY)


def test_report_defaults() -> None:
    report = ValidationReport(valid=True)
    assert report.to_dict()["mode"] == "static"


class _OnlySQLFields:
    """An event exposing only SQL_FIELDS (and what derives from them): validation reading
    any other field raises, which would make the memo's key incomplete."""

    def __init__(self, event: QualifyingEvent) -> None:
        self._event = event

    def __getattr__(self, name: str):
        from qualevents.validation import SQL_FIELDS

        derived = {"effective_source_type", "declared_schema"}
        if name not in SQL_FIELDS and name not in derived:
            raise AttributeError(f"validation read {name!r}, which is not in SQL_FIELDS")
        return getattr(self._event, name)


@pytest.mark.parametrize("event", [SEED_EXAMPLE, LIST_EXAMPLE, TABLE_SOURCE], ids=str)
def test_validation_reads_only_the_sql_fields(event: QualifyingEvent) -> None:
    full = Validator(None).validate(event)
    only = Validator(None).validate(_OnlySQLFields(event))  # type: ignore[arg-type]
    assert only == full


def test_a_static_report_is_kept_for_the_same_sql_fields_only() -> None:
    validator = Validator(None)
    # Every day given: a run that crosses midnight must not change the day under the test.
    first = validator.validate(SEED_EXAMPLE, today=TODAY)
    renamed = SEED_EXAMPLE.model_copy(update={"name": "other", "description": "d"})
    assert validator.validate(renamed, today=TODAY) is first  # same SQL fields: the kept report
    changes = {
        "sql": "SELECT user_id, ts FROM t",
        "timestamp_column": "created",
        "id_type_mapping": [DEVICE],
        "custom_field_mapping": [CustomFieldMapping(key="k", formula="upper(user_id)")],
        "skip_validation": True,
    }
    for field_name, value in changes.items():
        changed = validator.validate(
            SEED_EXAMPLE.model_copy(update={field_name: value}), today=TODAY
        )
        assert changed is not first, field_name
    tomorrow = validator.validate(SEED_EXAMPLE, today=TODAY + timedelta(days=1))
    assert tomorrow is not first


def test_a_warehouse_report_is_never_kept(validator: Validator) -> None:
    assert validator.validate(SEED_EXAMPLE) is not validator.validate(SEED_EXAMPLE)


def test_the_kept_reports_are_bounded_in_bytes() -> None:
    """The memo holds at most ``memo_bytes`` of keys and reports, however large each
    definition is: big SQL evicts more entries than small SQL."""
    budget = 200_000
    validator = Validator(None, memo_bytes=budget)
    padding = " ".join(f"c{i}" for i in range(2_000))  # a long SELECT list: ~14 KB of SQL
    for i in range(60):
        sql = f"SELECT user_id, ts, {i} AS n, '{padding}' AS pad FROM t"
        report = validator.validate(SEED_EXAMPLE.model_copy(update={"sql": sql}))
        assert report.valid
    assert 0 < validator.memo_weight <= budget
    kept = len(validator._memo)
    assert 3 <= kept < 60
    # The newest are the ones kept, and they are handed out again.
    sql = f"SELECT user_id, ts, 59 AS n, '{padding}' AS pad FROM t"
    newest = SEED_EXAMPLE.model_copy(update={"sql": sql})
    assert validator.validate(newest) is validator.validate(newest)
    # A report larger than the whole budget is computed but not kept.
    tiny = Validator(None, memo_bytes=100)
    tiny.validate(SEED_EXAMPLE)
    assert tiny.memo_weight == 0 and not tiny._memo
