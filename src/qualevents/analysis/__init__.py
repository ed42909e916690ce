"""Analyses that run on qualifying events: exposure filtering with a bias guard (issue 12)
and power analysis with a qualifying-event population (issue 13). Imports ``errors``,
``models``, ``sql`` and ``warehouse.base`` types only; never ``store``, ``service``, ``api``
or ``cli`` (the job machinery and the endpoints wire these in from above).

    inputs        the sources an analysis reads (assignment source, metric source)
    requests      the request bodies (pydantic, camelCase on the wire) and their checks
    fragments     user filter expressions (``eventFilter``, ``metricFilter``), guarded
    timestamps    UTC timestamps, dates and intervals as sqlglot expressions
    rows          one source's rows as an analysis reads them (unit id, UTC ts, filter)
    exposures     the exposure-filtering SQL (aggregates, and the filtered exposures)
    power_sql     the power-analysis SQL (per-duration aggregates)
    statistics    chi-square tests and verdicts (scipy)
    power         MDE formulas and the power response
    plot          the power response as a PNG (matplotlib, Agg)
    runner        run an analysis through a warehouse adapter and assemble ``data``
"""

from qualevents.analysis.inputs import AssignmentSource, MetricSource
from qualevents.analysis.requests import FilterExposuresRequest, PowerRequest
from qualevents.analysis.runner import run_filter_exposures, run_power

__all__ = [
    "AssignmentSource",
    "FilterExposuresRequest",
    "MetricSource",
    "PowerRequest",
    "run_filter_exposures",
    "run_power",
]
