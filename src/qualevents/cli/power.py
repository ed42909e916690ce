"""``qualevents power NAME``: a power analysis with the qualifying event as the population
(issue 13), through a server (``--url``: a job, polled with a progress display) or locally
(the store and the warehouse from the settings, computed in this process). A table for
people, ``--json`` for scripts (``{"data", "job"}``, the job only from a server),
``--plot FILE`` for the PNG (the server's drawing of the job, or drawn here).

Options the user leaves out are left out of the request, so the defaults are the server's
(``analysis.requests.PowerRequest``), written once."""

from __future__ import annotations

import enum
import math
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from qualevents.cli.common import (
    ApiKeyOption,
    DatabaseUrl,
    JsonOutput,
    RemoteUrl,
    WarehouseUrl,
    app,
    emit,
    err,
    fail,
    out,
    usage,
)
from qualevents.errors import QualeventsError


class MetricType(enum.StrEnum):
    SUM = "sum"
    COUNT = "count"
    CONVERSION = "conversion"
    MEAN = "mean"
    RATIO = "ratio"


def power_body(**options: Any) -> dict[str, Any]:
    """The request body for the options given (None: left out, the server's default)."""
    metric = {"type": options.pop("metric_type")}
    for option, field in (
        ("value_column", "valueColumn"),
        ("numerator_column", "numeratorColumn"),
        ("denominator_column", "denominatorColumn"),
    ):
        if options.get(option) is not None:
            metric[field] = options.pop(option)
        options.pop(option, None)
    body: dict[str, Any] = {"metricSource": options.pop("metric_source"), "metric": metric}
    pre_days = options.pop("cuped_pre_days", None)
    if pre_days is not None:
        body["cuped"] = {"preDays": pre_days}
    if options.pop("one_sided", False):
        body["alternative"] = "one-sided"
    if options.pop("bonferroni", False):
        body["bonferroni"] = True
    names = {
        "metric_filter": "metricFilter",
        "event_filter": "eventFilter",
        "unit_type": "unitType",
        "weeks": "weeks",
        "end": "end",
        "metric_window_days": "metricWindowDays",
        "alpha": "alpha",
        "power": "power",
        "groups": "groups",
        "control_share": "controlShare",
        "allocation": "allocation",
        "wait": "wait",
    }
    for option, value in options.items():
        if value is not None:
            body[names[option]] = value
    return body


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    number = float(value)
    if not math.isfinite(number):
        return "-"
    if number == 0:
        return "0"
    if abs(number) >= 1e6 or abs(number) < 1e-3:
        return f"{number:.3g}"
    return f"{number:,.4g}" if abs(number) < 1000 else f"{number:,.1f}"


def _percent(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.2f}%"


def render_power(data: dict[str, Any], name: str, job: dict[str, Any] | None = None) -> None:
    """The power response ``data`` as a table for people, then its warnings (and the job
    that computed it, on a server)."""
    inputs = data.get("inputs") or {}
    durations = data.get("durations") or []
    from qualevents.analysis.plot import describe

    title = f"{name}: power of {describe(inputs) or 'the metric'}"
    cuped = any("rho" in d for d in durations)
    ratio = any("unitsWithoutDenominator" in d for d in durations)
    # CUPED's columns take the place of the variance (--json has every field)
    headers = ["weeks", "from", "units", "mean", "variance", "MDE", "MDE %"]
    if ratio:
        headers.insert(3, "no denom.")
    if cuped:
        headers.remove("variance")
        headers += ["rho", "MDE CUPED", "% CUPED"]
    table = Table(
        title=escape(title),
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        padding=(0, 1, 0, 0),
    )
    for header in headers:
        table.add_column(header, justify="left" if header == "from" else "right")
    for entry in durations:
        row = [
            str(entry.get("weeks")),
            str(entry.get("start")),
            _number(entry.get("units")),
            _number(entry.get("mean")),
            *([] if cuped else [_number(entry.get("variance"))]),
            _number(entry.get("mdeAbsolute")),
            _percent(entry.get("mdeRelative")),
        ]
        if ratio:
            row.insert(3, _number(entry.get("unitsWithoutDenominator")))
        if cuped:
            row += [
                "-" if entry.get("rho") is None else f"{entry['rho']:.3f}",
                _number(entry.get("mdeAbsoluteCuped")),
                _percent(entry.get("mdeRelativeCuped")),
            ]
        table.add_row(*row)
    out.print(table)
    if inputs:
        alpha = f"alpha {inputs.get('alpha')}"
        if inputs.get("effectiveAlpha") != inputs.get("alpha"):
            alpha += f" (Bonferroni: {_number(inputs.get('effectiveAlpha'))})"
        parts = [
            alpha,
            f"power {inputs.get('power')}",
            str(inputs.get("alternative")),
            f"{inputs.get('groups')} groups",
            f"control share {_number(inputs.get('controlShare'))}",
            f"allocation {inputs.get('allocation')}",
            f"unit {inputs.get('unitType')}",
        ]
        if inputs.get("metricWindowDays"):
            parts.append(f"metric window {inputs['metricWindowDays']} days")
        if inputs.get("cuped"):
            parts.append(f"CUPED {inputs['cuped']['preDays']} days before exposure")
        out.print(escape(", ".join(parts)), highlight=False)
    for warning in data.get("warnings") or []:
        out.print(f"[yellow]warning[/yellow] {escape(str(warning))}", highlight=False)
    if job:
        out.print(f"job: {escape(str(job.get('id')))}", highlight=False)


def _local(name: str, body: dict[str, Any], database_url: str | None, warehouse_url: str | None):
    """Compute in this process: the sources from the local store, the warehouse from the
    settings (the analysis timeout applies). Returns (data, png renderer)."""
    from qualevents.analysis import PowerRequest, run_power
    from qualevents.cli.common import open_local_store, settings_from
    from qualevents.errors import ConfigurationError, ErrorItem
    from qualevents.runtime import open_warehouse_for
    from qualevents.service import QualifyingEventService

    request = PowerRequest.parse(body)
    settings = settings_from(database_url=database_url, warehouse_url=warehouse_url)
    timeout = getattr(settings, "analysis_timeout_s", None)
    if timeout is not None:
        settings = settings.model_copy(update={"warehouse_timeout_s": timeout})
    warehouse = open_warehouse_for(settings)
    if warehouse is None:
        message = "A power analysis runs in the warehouse; none is configured"
        raise ConfigurationError(message, [ErrorItem(("warehouse_url",), message)])
    store = open_local_store(database_url)
    try:
        event = QualifyingEventService(store).get(name).event
        metric = QualifyingEventService(store.for_kind("metric_source"))
        source = metric.get(request.metric_source).event
        with err.status("Computing in the warehouse ...", spinner="dots"):
            return run_power(warehouse, event, source, request)
    finally:
        warehouse.close()
        store.close()


def _write_plot(path: Path, png: bytes) -> None:
    try:
        path.write_bytes(png)
    except OSError as error:
        usage(f"--plot {path}: {error.strerror or error}")
    err.print(f"wrote {escape(str(path))}", highlight=False)


@app.command(rich_help_panel="Analyses")
def power(
    name: Annotated[str, typer.Argument(help="The qualifying event (the population)")],
    metric_source: Annotated[
        str, typer.Option("--metric-source", help="The metric source's name", show_default=False)
    ],
    metric_type: Annotated[
        MetricType, typer.Option("--metric-type", help="How a unit's rows become its metric")
    ],
    value_column: Annotated[
        str | None, typer.Option(help="The value (sum, mean): a column or custom-field key")
    ] = None,
    numerator_column: Annotated[str | None, typer.Option(help="The ratio's numerator")] = None,
    denominator_column: Annotated[str | None, typer.Option(help="The ratio's denominator")] = None,
    weeks: Annotated[int | None, typer.Option(help="Durations 1..weeks (default 4)")] = None,
    end: Annotated[
        str | None, typer.Option(help="Last day YYYY-MM-DD (default yesterday, UTC)")
    ] = None,
    metric_window_days: Annotated[
        int | None, typer.Option(help="Count the metric this many days from exposure")
    ] = None,
    alpha: Annotated[float | None, typer.Option(help="Significance level (default 0.05)")] = None,
    power_: Annotated[float | None, typer.Option("--power", help="Power (default 0.8)")] = None,
    one_sided: Annotated[bool, typer.Option("--one-sided", help="A one-sided test")] = False,
    groups: Annotated[int | None, typer.Option(help="Groups incl. control (default 2)")] = None,
    control_share: Annotated[
        float | None, typer.Option(help="Control's share (default 1/groups)")
    ] = None,
    allocation: Annotated[
        float | None, typer.Option(help="Share of the population in the experiment (default 1)")
    ] = None,
    bonferroni: Annotated[
        bool, typer.Option("--bonferroni", help="Divide alpha by groups - 1")
    ] = False,
    cuped_pre_days: Annotated[
        int | None, typer.Option(help="CUPED with this many days before each exposure")
    ] = None,
    metric_filter: Annotated[
        str | None, typer.Option(help="SQL condition over the metric source's columns")
    ] = None,
    event_filter: Annotated[
        str | None, typer.Option(help="SQL condition over the qualifying event's columns")
    ] = None,
    unit_type: Annotated[str | None, typer.Option(help="The unit type to join on")] = None,
    wait: Annotated[
        float | None,
        typer.Option(help="Seconds the server waits before answering 202 (0-60; default 10)"),
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(help="With --url: stop polling after this many seconds")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write the PNG (MDE and units by weeks) here")
    ] = None,
    url: RemoteUrl = None,
    api_key: ApiKeyOption = None,
    database_url: DatabaseUrl = None,
    warehouse_url: WarehouseUrl = None,
    as_json: JsonOutput = False,
) -> None:
    """Size an experiment: per duration, the units, the metric's mean and variance and the
    minimum detectable effect (with CUPED), computed in the warehouse."""
    body = power_body(
        metric_source=metric_source,
        metric_type=metric_type.value,
        value_column=value_column,
        numerator_column=numerator_column,
        denominator_column=denominator_column,
        weeks=weeks,
        end=end,
        metric_window_days=metric_window_days,
        alpha=alpha,
        power=power_,
        one_sided=one_sided,
        groups=groups,
        control_share=control_share,
        allocation=allocation,
        bonferroni=bonferroni,
        cuped_pre_days=cuped_pre_days,
        metric_filter=metric_filter,
        event_filter=event_filter,
        unit_type=unit_type,
        wait=wait,
    )
    png: bytes | None = None
    job: dict[str, Any] | None = None
    try:
        if url:
            data, job, png = _remote(name, body, url, api_key, plot is not None, timeout)
        else:
            data = _local(name, body, database_url, warehouse_url)
            if plot is not None:
                from qualevents.analysis.plot import power_png

                png = power_png(data, name)
    except QualeventsError as error:
        if as_json:
            from qualevents.api.errors import error_body

            emit(error_body(error), True, lambda: None)
            raise typer.Exit(1) from None
        fail(error)
    emit(
        {"data": data, "job": job} if job else {"data": data},
        as_json,
        lambda: render_power(data, name, job),
    )
    if plot is not None and png is not None:
        _write_plot(plot, png)


def _remote(
    name: str,
    body: dict[str, Any],
    url: str,
    api_key: str | None,
    want_png: bool,
    timeout: float | None,
) -> tuple[dict[str, Any], dict[str, Any] | None, bytes | None]:
    """Start the job on the server and poll it with a progress display; the PNG, when
    asked, is the job's (drawn by the server)."""
    from qualevents.cli import analyses

    with analyses._client(url, api_key) as client, err.status("Starting the analysis") as status:
        answer = client.wait_for(
            client.start_power(name, body),
            timeout_s=timeout,
            on_progress=analyses._progress(status, time.monotonic()),
        )
        job = answer.job
        png = client.power_png(job.id).data if want_png and job is not None else None
    return answer.data, job.model_dump(by_alias=True) if job else None, png
