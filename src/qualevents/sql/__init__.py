"""Pure SQL analysis with sqlglot, no I/O. Imports ``errors``, ``models`` and sqlglot only.

- ``lexing``: code / strings / comments / quoted identifiers, per dialect
- ``macros``: Statsig's ``{statsig_start_date}`` family, substituted before parsing
- ``references``: BigQuery-style ``project-x.dataset.table`` made valid in every dialect
- ``parse``: parsing in the warehouse's dialect and the read-only guard
- ``guard``: denied functions and relations, ClickHouse table functions and ``SETTINGS``,
  set-returning functions in formulas, the nesting limit (the data in ``denied``)
- ``schema``: :class:`Column`, the type vocabulary and static schema inference
- ``queries``: the effective query, schema probe, preview and daily aggregate
- ``checks``: a definition's columns and formulas against an output schema
- ``scan``: the assignment-source scan (experiments, groups, units) as one query
"""

from qualevents.sql.checks import Findings, check_event
from qualevents.sql.macros import DateRange, substitute_macros
from qualevents.sql.parse import ensure_read_only, parse_query
from qualevents.sql.references import normalize_references, table_reference
from qualevents.sql.schema import Column, infer_schema, normalize_type

__all__ = [
    "Column",
    "DateRange",
    "Findings",
    "check_event",
    "ensure_read_only",
    "infer_schema",
    "normalize_references",
    "normalize_type",
    "parse_query",
    "substitute_macros",
    "table_reference",
]
