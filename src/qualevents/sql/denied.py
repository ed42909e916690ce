"""What user SQL may not call or read, per dialect, as data (``sql.guard`` applies it).
Imports nothing from the package.

Each entry is a lower-case name or ``fnmatch`` pattern (``lo_*``) and the reason a user
reads in the 400. A relation pattern matches the name as written or any dotted tail of it
(``pg_settings`` matches ``pg_catalog.pg_settings``). A dialect's list is its own entries
plus those of the dialects it ``EXTENDS`` (Redshift speaks PostgreSQL; Databricks speaks
Spark). Adding an entry is adding a line; tests/test_security_guard.py runs one test per
entry.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Denied:
    pattern: str
    reason: str


FILES = "it reads or writes the server's files"
PROGRAMS = "it runs programs or code on the server"
SESSION = "it reads or changes the session's settings, which every later query would inherit"
SETTINGS = "it shows the server's settings and paths"
OTHERS = "it reaches other sessions or connections"
LOCKS = "it takes locks that outlive the query"
SLEEP = "it only makes the query wait"
SEQUENCES = "it changes a sequence (a write)"
DYNAMIC = "it runs SQL given as a string, which the guard cannot check"
NETWORK = "it makes the server fetch from other servers or URLs"
ADMIN = "it administers the server"
SECRETS = "it reads secrets or credentials"
SET_RETURNING = "it returns many rows, and a custom field is one value per row of the source"
CLICKHOUSE_TABLE_FUNCTION_REASON = (
    "table functions read URLs, files and other servers; select from tables instead"
)
CLICKHOUSE_SETTINGS_REASON = (
    "it would change the query's limits (max_execution_time, readonly...), which qualevents sets"
)


def _entries(reason: str, *patterns: str) -> tuple[Denied, ...]:
    return tuple(Denied(pattern, reason) for pattern in patterns)


POSTGRES_FUNCTIONS = (
    *_entries(
        FILES,
        "pg_read_file",
        "pg_read_binary_file",
        "pg_ls_*",
        "pg_stat_file",
        "pg_file_*",
        "pg_logdir_ls",
        "pg_current_logfile",
        "pg_tablespace_location",
        "lo_*",
        "loread",
        "lowrite",
    ),
    *_entries(PROGRAMS, "pg_reload_conf", "pg_rotate_logfile", "pg_promote"),
    *_entries(
        SESSION,
        "set_config",
        "current_setting",
        "pg_show_all_settings",
        "pg_show_all_file_settings",
        "pg_config",
    ),
    *_entries(
        OTHERS,
        "dblink*",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_stat_get_activity",
        "pg_stat_get_backend_*",
        "pg_notify",
        "pg_stat_reset*",
        "pg_hba_file_rules",
        "pg_ident_file_mappings",
        "pg_stat_statements*",
    ),
    *_entries(LOCKS, "pg_advisory_*", "pg_try_advisory_*"),
    *_entries(SLEEP, "pg_sleep", "pg_sleep_for", "pg_sleep_until"),
    *_entries(SEQUENCES, "nextval", "setval", "currval", "lastval"),
    *_entries(
        DYNAMIC,
        "query_to_xml",
        "query_to_xml_and_xmlschema",
        "query_to_xmlschema",
        "cursor_to_xml",
        "cursor_to_xmlschema",
    ),
    *_entries(
        ADMIN,
        "pg_create_*",
        "pg_drop_replication_slot",
        "pg_replication_*",
        "pg_logical_*",
        "pg_switch_wal",
        "pg_export_snapshot",
        "pg_import_system_collations",
        "txid_current",
        "pg_current_xact_id",
    ),
)
POSTGRES_RELATIONS = (
    *_entries(
        SETTINGS,
        "pg_settings",
        "pg_file_settings",
        "pg_hba_file_rules",
        "pg_config",
    ),
    *_entries(
        OTHERS,
        "pg_stat_activity",
        "pg_stat_replication",
        "pg_locks",
        "pg_stat_statements*",
    ),
    *_entries(
        SECRETS,
        "pg_authid",
        "pg_shadow",
        "pg_user_mappings",
    ),
)

DUCKDB_FUNCTIONS = (
    *_entries(
        FILES,
        "read_*",
        "parquet_*",
        "sniff_csv",
        "glob",
        "delta_scan",
        "iceberg_*",
        "sqlite_*",
        "st_read*",
        "from_csv_auto",
        "from_json*",
        "from_parquet",
        "csv_scan",
        "json_scan",
    ),
    *_entries(NETWORK, "postgres_*", "mysql_*", "httpfs_*"),
    *_entries(
        SETTINGS,
        "duckdb_*",
        "current_setting",
        "pragma_*",
        "which_secret",
        "getenv",
    ),
    *_entries(DYNAMIC, "query", "query_table", "json_execute_serialized_sql"),
    *_entries(ADMIN, "checkpoint", "force_checkpoint", "nextval", "currval"),
)
DUCKDB_RELATIONS = _entries(SETTINGS, "duckdb_*", "pragma_*")

CLICKHOUSE_FUNCTIONS = (
    *_entries(
        NETWORK,
        "url",
        "urlcluster",
        "remote",
        "remotesecure",
        "cluster",
        "clusterallreplicas",
        "s3",
        "s3cluster",
        "gcs",
        "azureblobstorage*",
        "hdfs*",
        "jdbc",
        "odbc",
        "mysql",
        "postgresql",
        "mongodb",
        "redis",
        "deltalake*",
        "hudi*",
        "iceberg*",
    ),
    *_entries(FILES, "file", "filecluster", "input", "sqlite", "filesystem*"),
    *_entries(PROGRAMS, "executable", "executablepool"),
    *_entries(SLEEP, "sleep", "sleepeachrow"),
    *_entries(
        SETTINGS,
        "getsetting",
        "getsettingordefault",
        "getmacro",
        "getserverport",
        "currentprofiles",
        "currentroles",
        "enabledprofiles",
        "enabledroles",
        "defaultprofiles",
        "defaultroles",
        "getoskernelversion",
    ),
    *_entries(OTHERS, "dictget*", "joinget*", "dictionary"),
)
CLICKHOUSE_RELATIONS = _entries(OTHERS, "system.*", "information_schema.processes")

SNOWFLAKE_FUNCTIONS = (
    *_entries(ADMIN, "system$*"),
    *_entries(
        OTHERS,
        "result_scan",
        "query_history*",
        "login_history*",
        "task_history",
        "copy_history",
    ),
    *_entries(
        FILES,
        "get_presigned_url",
        "build_scoped_file_url",
        "build_stage_file_url",
        "get_stage_location",
        "get_absolute_path",
        "get_relative_path",
        "infer_schema",
    ),
)
SNOWFLAKE_RELATIONS = _entries(OTHERS, "snowflake.*", "account_usage.*")

BIGQUERY_FUNCTIONS = (
    *_entries(NETWORK, "external_query", "external_object_transform"),
    *_entries(DYNAMIC, "vector_search"),
)
BIGQUERY_RELATIONS = _entries(
    OTHERS,
    "information_schema.jobs*",
    "information_schema.sessions*",
)

SPARK_FUNCTIONS = (
    *_entries(
        FILES,
        "read_files",
        "input_file_name",
        "cloud_files_state",
        "read_state_metadata",
        "read_statestore",
    ),
    *_entries(NETWORK, "read_kafka", "read_kinesis", "read_pubsub", "read_pulsar", "http_request"),
    *_entries(PROGRAMS, "reflect", "try_reflect", "java_method"),
    *_entries(SECRETS, "secret", "try_secret", "list_secrets"),
    *_entries(OTHERS, "ai_*", "event_log"),
)
# ``SELECT * FROM parquet.`/path` `` reads a file as a table.
SPARK_RELATIONS = _entries(
    FILES,
    "csv.*",
    "parquet.*",
    "json.*",
    "orc.*",
    "text.*",
    "delta.*",
    "avro.*",
    "binaryfile.*",
    "file.*",
)

TRINO_FUNCTIONS = (
    *_entries(DYNAMIC, "query", "raw_query"),
    *_entries(SLEEP, "sleep"),
)
TRINO_RELATIONS = _entries(OTHERS, "system.*", "runtime.*")

REDSHIFT_FUNCTIONS = _entries(OTHERS, "pg_terminate_backend", "pg_cancel_backend")
REDSHIFT_RELATIONS = _entries(
    OTHERS,
    "stl_*",
    "stv_*",
    "svl_*",
    "sys_query_*",
)

SET_RETURNING_FUNCTIONS = _entries(
    SET_RETURNING,
    "unnest",
    "generate_series",
    "generate_subscripts",
    "range",
    "explode",
    "explode_outer",
    "posexplode",
    "posexplode_outer",
    "inline",
    "inline_outer",
    "stack",
    "json_array_elements",
    "json_array_elements_text",
    "jsonb_array_elements",
    "jsonb_array_elements_text",
    "json_each",
    "json_each_text",
    "jsonb_each",
    "jsonb_each_text",
    "json_object_keys",
    "jsonb_object_keys",
    "json_populate_recordset",
    "jsonb_populate_recordset",
    "json_to_recordset",
    "jsonb_to_recordset",
    "jsonb_path_query",
    "regexp_matches",
    "regexp_split_to_table",
    "string_to_table",
    "arrayjoin",
    "flatten",
    "split_to_table",
)

FUNCTIONS: dict[str, tuple[Denied, ...]] = {
    "postgres": POSTGRES_FUNCTIONS,
    "duckdb": DUCKDB_FUNCTIONS,
    "clickhouse": CLICKHOUSE_FUNCTIONS,
    "snowflake": SNOWFLAKE_FUNCTIONS,
    "bigquery": BIGQUERY_FUNCTIONS,
    "spark": SPARK_FUNCTIONS,
    "databricks": (),
    "trino": TRINO_FUNCTIONS,
    "redshift": REDSHIFT_FUNCTIONS,
}
RELATIONS: dict[str, tuple[Denied, ...]] = {
    "postgres": POSTGRES_RELATIONS,
    "duckdb": DUCKDB_RELATIONS,
    "clickhouse": CLICKHOUSE_RELATIONS,
    "snowflake": SNOWFLAKE_RELATIONS,
    "bigquery": BIGQUERY_RELATIONS,
    "spark": SPARK_RELATIONS,
    "databricks": (),
    "trino": TRINO_RELATIONS,
    "redshift": REDSHIFT_RELATIONS,
}
# One part of a table name that is a file, a URL or a stage rather than a table (DuckDB's
# ``FROM '/etc/passwd'``, Snowflake's ``FROM @stage``), matched part by part.
STAGE = "it reads files from a stage"
PATH_PARTS = _entries(
    FILES,
    "*/*",
    "*://*",
    "*.csv",
    "*.csv.gz",
    "*.tsv",
    "*.txt",
    "*.parquet",
    "*.json",
    "*.jsonl",
    "*.ndjson",
    "*.xlsx",
    "*.arrow",
)
TABLE_PARTS: dict[str, tuple[Denied, ...]] = {
    "duckdb": PATH_PARTS,
    "spark": _entries(FILES, "*/*", "*://*"),
    "snowflake": _entries(STAGE, "@*"),
    "clickhouse": _entries(FILES, "*/*", "*://*"),
}
EXTENDS = {"redshift": "postgres", "databricks": "spark"}


def _lineage(dialect: str | None) -> list[str]:
    name = (dialect or "").lower()
    found = []
    while name:
        found.append(name)
        name = EXTENDS.get(name, "")
    return found


def denied_functions(dialect: str | None) -> tuple[Denied, ...]:
    return tuple(entry for name in _lineage(dialect) for entry in FUNCTIONS.get(name, ()))


def denied_relations(dialect: str | None) -> tuple[Denied, ...]:
    return tuple(entry for name in _lineage(dialect) for entry in RELATIONS.get(name, ()))


def denied_table_parts(dialect: str | None) -> tuple[Denied, ...]:
    return tuple(entry for name in _lineage(dialect) for entry in TABLE_PARTS.get(name, ()))
