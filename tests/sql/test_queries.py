"""The queries built for an event: they parse back in every supported dialect, keep the
partition filter, and static schema inference."""

from __future__ import annotations

from datetime import date

import pytest
import sqlglot

from qualevents.errors import SQLInvalid
from qualevents.models import CustomFieldMapping, IdTypeMapping, QualifyingEvent, SourceType
from qualevents.sql import DateRange, infer_schema, normalize_type, parse_query
from qualevents.sql.queries import daily_query, effective_query, preview_query, schema_probe

DIALECTS = [
    "duckdb",
    "postgres",
    "bigquery",
    "snowflake",
    "databricks",
    "redshift",
    "trino",
    "clickhouse",
]
WINDOW = DateRange(date(2024, 3, 1), date(2024, 3, 7))
LIST_EXAMPLE = QualifyingEvent(
    name="list",
    sql="SELECT *\nFROM shoppy-sales.logging.events\n"
    "where DATE(ts) between {statsig_start_date} and {statsig_end_date}\n",
    timestamp_column="ts",
    id_type_mapping=[
        IdTypeMapping(statsig_unit_id="userID", column="user_id"),
        IdTypeMapping(statsig_unit_id="deviceID", column="device_id"),
    ],
    custom_field_mapping=[
        CustomFieldMapping(key="", formula=""),
        CustomFieldMapping(key="cents", formula="price_usd * 100"),
    ],
)
TABLE_SOURCE = QualifyingEvent(
    name="table",
    sql="",
    source_type=SourceType.TABLE,
    table_name="`shoppy-sales.logging.events`",
    date_partition_column="ds",
    timestamp_column="ts",
    id_type_mapping=[IdTypeMapping(statsig_unit_id="userID", column="user_id")],
)


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("ts_type", ["timestamp", "date", "string"])
def test_every_builder_renders_sql_the_dialect_reads(dialect: str, ts_type: str) -> None:
    for event in (LIST_EXAMPLE, TABLE_SOURCE):
        query = effective_query(event, dialect, WINDOW)
        built = [
            schema_probe(query),
            preview_query(
                event,
                query,
                dialect,
                limit=5,
                since=WINDOW.start,
                until=WINDOW.end,
                ts_type=ts_type,
            ),
            daily_query(event, query, dialect, start=WINDOW.start, end=WINDOW.end, ts_type=ts_type),
        ]
        for expression in built:
            text = expression.sql(dialect=dialect)
            (statement,) = sqlglot.parse(text, read=dialect)
            assert statement is not None


def test_table_source_pushes_the_partition_filter_down() -> None:
    text = effective_query(TABLE_SOURCE, "duckdb", WINDOW).sql(dialect="duckdb")
    assert text == (
        'SELECT * FROM "shoppy-sales".logging.events '
        "WHERE ds BETWEEN CAST('2024-03-01' AS DATE) AND CAST('2024-03-07' AS DATE)"
    )
    daily = daily_query(
        TABLE_SOURCE,
        effective_query(TABLE_SOURCE, "duckdb", WINDOW),
        "duckdb",
        start=WINDOW.start,
        end=WINDOW.end,
        ts_type="timestamp",
    )
    assert "ds BETWEEN" in daily.sql(dialect="duckdb")


def test_table_source_without_partition_or_window_selects_everything() -> None:
    event = TABLE_SOURCE.model_copy(update={"date_partition_column": None})
    assert effective_query(event, "postgres", WINDOW).sql(dialect="postgres") == (
        'SELECT * FROM "shoppy-sales".logging.events'
    )


def test_bad_table_name_is_reported_on_table_name() -> None:
    event = TABLE_SOURCE.model_copy(update={"table_name": "a.b.c.d.(e"})
    with pytest.raises(SQLInvalid) as caught:
        effective_query(event, "duckdb", WINDOW)
    assert caught.value.errors[0].loc == ("table_name",)


def test_probe_reads_no_rows() -> None:
    query = parse_query("SELECT a FROM t ORDER BY a LIMIT 5", "postgres")
    assert schema_probe(query).sql(dialect="postgres") == (
        "SELECT * FROM (SELECT a FROM t ORDER BY a LIMIT 5) AS s LIMIT 0"
    )


def test_preview_selects_ids_timestamp_and_custom_fields_latest_first() -> None:
    query = effective_query(LIST_EXAMPLE, "duckdb", WINDOW)
    text = preview_query(
        LIST_EXAMPLE,
        query,
        "duckdb",
        limit=20,
        since=WINDOW.start,
        until=WINDOW.end,
        ts_type="timestamp",
    ).sql(dialect="duckdb")
    assert text.startswith("SELECT user_id, device_id, ts, price_usd * 100 AS cents FROM (")
    assert text.endswith("ORDER BY ts DESC LIMIT 20")


def test_static_inference_reads_named_projections() -> None:
    query = parse_query(
        "SELECT user_id, CAST(t AS TIMESTAMP) AS ts, 1 AS one, 'x' AS s, e.kind FROM e", "duckdb"
    )
    inferred = infer_schema(query, "duckdb")
    assert inferred.complete
    assert [(c.name, c.type) for c in inferred.columns] == [
        ("user_id", "unknown"),
        ("ts", "timestamp"),
        ("one", "integer"),
        ("s", "string"),
        ("kind", "unknown"),
    ]


def test_static_inference_of_a_star_is_incomplete() -> None:
    assert not infer_schema(parse_query("SELECT *, 1 AS x FROM t", "duckdb")).complete
    assert not infer_schema(parse_query("SELECT t.* FROM t", "duckdb")).complete
    union = infer_schema(parse_query("SELECT a FROM t UNION ALL SELECT b FROM u", "duckdb"))
    assert [c.name for c in union.columns] == ["a"]


@pytest.mark.parametrize(
    ("raw", "dialect", "expected"),
    [
        ("TIMESTAMP WITH TIME ZONE", "duckdb", "timestamp"),
        ("timestamptz", "postgres", "timestamp"),
        ("TIMESTAMP_NTZ(9)", "snowflake", "timestamp"),
        ("DATETIME", "bigquery", "timestamp"),
        ("Nullable(DateTime64(3))", "clickhouse", "timestamp"),
        ("DATE", "duckdb", "date"),
        ("VARCHAR", "duckdb", "string"),
        ("LowCardinality(String)", "clickhouse", "string"),
        ("INT64", "bigquery", "integer"),
        ("NUMBER(38,0)", "snowflake", "decimal"),
        ("DOUBLE", "duckdb", "float"),
        ("BOOLEAN", "duckdb", "boolean"),
        ("jsonb", "postgres", "json"),
        ("INTEGER[]", "duckdb", "array"),
        ("no such type at all", "duckdb", "other"),
        ("", "duckdb", "unknown"),
    ],
)
def test_type_vocabulary(raw: str, dialect: str, expected: str) -> None:
    assert normalize_type(raw, dialect) == expected


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_experiment_start_macro_has_the_builders_timestamp_type(dialect: str) -> None:
    """A definition comparing its timestamp with ``{statsig_experiment_start_timestamp}``
    inside the preview's time filter: every timestamp literal of the query is one type
    (on BigQuery TIMESTAMP, never DATETIME, which BigQuery refuses to compare with it)."""
    event = QualifyingEvent(
        name="since start",
        sql="SELECT user_id, ts FROM events WHERE ts >= {statsig_experiment_start_timestamp}",
        timestamp_column="ts",
        id_type_mapping=[IdTypeMapping(statsig_unit_id="userID", column="user_id")],
    )
    query = effective_query(event, dialect, WINDOW)
    built = preview_query(
        event, query, dialect, limit=5, since=WINDOW.start, until=WINDOW.end, ts_type="timestamp"
    ).sql(dialect=dialect)
    casts = [
        cast.to.sql(dialect=dialect)
        for cast in sqlglot.parse_one(built, read=dialect).find_all(sqlglot.exp.Cast)
        if isinstance(cast.this, sqlglot.exp.Literal) and ":" in cast.this.name
    ]
    assert len(casts) == 3  # the macro and the two bounds of the time filter
    assert len(set(casts)) == 1, casts
    if dialect == "bigquery":
        assert casts[0] == "TIMESTAMP"
