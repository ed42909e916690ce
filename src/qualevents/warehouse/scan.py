"""Running the assignment-source scan (``sql.scan``) on a warehouse adapter. Imports
``sql`` and ``warehouse.base``.

The scan is one query, computed in the warehouse; only one row per (experiment, group)
comes back. The adapter's read-only guard, timeout and row cap apply as to every query; when
as many rows as the cap come back, the rows may have been cut: the result says so and leaves
out the last experiment, whose groups may be incomplete.
"""

from __future__ import annotations

from datetime import date

from qualevents.sql.scan import AssignmentSource, ScanResult, scan_query, shape_rows
from qualevents.warehouse.base import Warehouse


def scan_experiments(
    warehouse: Warehouse,
    source: AssignmentSource,
    *,
    start: date | None = None,
    end: date | None = None,
    unit_type: str | None = None,
    ts_type: str | None = None,
) -> ScanResult:
    """The experiments ``source`` holds, with their groups and units (see ``sql.scan``), for
    exposures on the UTC days ``start`` .. ``end`` (all exposures when neither is given).
    ``ts_type`` is the timestamp column's type when known (from a validation); a column not
    known to be a timestamp or date is cast first."""
    query = scan_query(
        source, warehouse.DIALECT, start=start, end=end, unit_type=unit_type, ts_type=ts_type
    )
    sql = query.sql(dialect=warehouse.DIALECT)
    rows = warehouse.query(sql)
    truncated = len(rows) >= warehouse.row_cap
    experiments = shape_rows(rows, source, unit_type)
    if truncated and experiments:
        experiments = experiments[:-1]  # its remaining groups were not read
    return ScanResult(tuple(experiments), sql, truncated)
