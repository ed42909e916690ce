"""``filter-exposures`` (issue 12) and ``jobs show|cancel|list``: analyses through a server
(``--url``: the job is started and polled, with a progress display while the warehouse
works) or locally (the store and warehouse of the settings, run in this process). Tables
for people, ``--json`` for scripts.
"""

from __future__ import annotations

import enum
import re
import time
from typing import Annotated, Any

import typer
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
    settings_from,
    usage,
)
from qualevents.errors import QualeventsError

jobs_app = typer.Typer(help="Analysis jobs on a server: show, cancel, list", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs", rich_help_panel="Analyses")

_WINDOW = re.compile(r"^\s*(\d+)\s*(m|min|mins|minutes?|h|hours?|d|days?)\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_VERDICT_COLOURS = {"ok": "green", "warning": "yellow", "alert": "red"}


class Mode(enum.StrEnum):
    INCLUDE = "include"
    EXCLUDE = "exclude"


class MatchAgainst(enum.StrEnum):
    FIRST = "firstExposure"
    ANY = "anyExposure"


def parse_window(text: str | None) -> dict[str, Any] | None:
    """``30m``, ``2h``, ``1d``, ``7 days`` -> ``{"amount": 7, "unit": "days"}``."""
    if text is None:
        return None
    found = _WINDOW.match(text)
    if not found:
        usage(f"--window {text!r}: expected an amount and a unit, e.g. 30m, 2h or 1d")
    return {"amount": int(found.group(1)), "unit": _UNITS[found.group(2)[0].lower()]}


def parse_split(values: list[str] | None) -> dict[str, float] | None:
    """``control=1,test=1`` (or the option repeated) -> ``{"control": 1.0, "test": 1.0}``."""
    if not values:
        return None
    split: dict[str, float] = {}
    for part in (p for value in values for p in value.split(",")):
        group, sep, weight = part.partition("=")
        try:
            split[group.strip()] = float(weight)
        except ValueError:
            usage(f"--expected-split {part!r}: expected GROUP=WEIGHT, e.g. control=1,test=1")
        if not sep or not group.strip():
            usage(f"--expected-split {part!r}: expected GROUP=WEIGHT, e.g. control=1,test=1")
    return split


def _client(url: str, api_key: str | None) -> Any:
    from qualevents.client import Client

    if not api_key:
        usage("--api-key (or $STATSIG_API_KEY) is required with --url")
    return Client(url, api_key)


def _verdict(test: dict[str, Any]) -> str:
    verdict = str(test.get("verdict"))
    colour = _VERDICT_COLOURS.get(verdict, "white")
    p_value = test.get("pValue")
    shown = "n/a" if p_value is None else f"{p_value:.4g}"
    return (
        f"[{colour}]{verdict}[/{colour}]  chi2 {test.get('chiSquare') or 0:.3f}, "
        f"df {test.get('degreesOfFreedom')}, p {shown}"
    )


def print_filtered(data: dict[str, Any], job: dict[str, Any] | None, show_sql: bool) -> None:
    table = Table("group", "name", "exposed", "qualified", "kept", "rate", title="groups")
    for group in data.get("groups", []):
        rate = group.get("qualificationRate")
        table.add_row(
            str(group["groupID"]),
            str(group.get("groupName") or ""),
            str(group["exposedUnits"]),
            str(group["qualifiedUnits"]),
            str(group["keptUnits"]),
            "" if rate is None else f"{rate:.2%}",
        )
    out.print(table)
    totals = data.get("totals", {})
    out.print(
        "totals: " + ", ".join(f"{name} {value}" for name, value in totals.items()),
        highlight=False,
    )
    srm = data.get("srm", {})
    out.print(f"sample ratio before: {_verdict(srm.get('before', {}))}", highlight=False)
    out.print(f"sample ratio after:  {_verdict(srm.get('after', {}))}", highlight=False)
    out.print(
        f"qualification balance (bias guard): {_verdict(data.get('qualificationBalance', {}))}",
        highlight=False,
    )
    for warning in data.get("warnings", []):
        out.print(f"[yellow]warning[/yellow] {warning}", highlight=False)
    if job:
        out.print(f"job: {job.get('id')}", highlight=False)
    if show_sql:
        out.print(data.get("compiledSql", ""), highlight=False, markup=False)


def _progress(status: Any, started: float) -> Any:
    def report(job: Any) -> None:
        status.update(
            f"Warehouse working: job {job.id} {job.status} ({time.monotonic() - started:.0f} s)"
        )

    return report


@app.command("filter-exposures", rich_help_panel="Analyses")
def filter_exposures(
    name: Annotated[str, typer.Argument(help="The qualifying event")],
    assignment_source: Annotated[
        str, typer.Option("--assignment-source", help="The assignment source's name")
    ],
    experiment: Annotated[
        str, typer.Option("--experiment", help="The experiment (its experimentIDColumn value)")
    ],
    start: Annotated[str | None, typer.Option(help="First exposure day, YYYY-MM-DD")] = None,
    end: Annotated[str | None, typer.Option(help="Last exposure day, YYYY-MM-DD")] = None,
    mode: Annotated[Mode, typer.Option(help="Keep the units that qualified, or the others")] = (
        Mode.INCLUDE
    ),
    window: Annotated[
        str | None, typer.Option(help="Qualify only this soon after exposure: 30m, 2h, 1d")
    ] = None,
    match_against: Annotated[
        MatchAgainst, typer.Option("--match-against", help="The first exposure, or any")
    ] = MatchAgainst.FIRST,
    replace_exposure_timestamp: Annotated[
        bool,
        typer.Option(
            "--replace-exposure-timestamp",
            help="Kept units' exposure time becomes their first qualifying event",
        ),
    ] = False,
    event_filter: Annotated[
        str | None, typer.Option("--event-filter", help="SQL condition on the event's rows")
    ] = None,
    expected_split: Annotated[
        list[str] | None,
        typer.Option("--expected-split", help="GROUP=WEIGHT,... for the sample-ratio test"),
    ] = None,
    unit_type: Annotated[str | None, typer.Option("--unit-type", help="Unit type to join")] = (
        None
    ),
    wait: Annotated[
        float | None,
        typer.Option(help="Seconds the server waits before answering 202 (0-60; default 10)"),
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Stop polling after this many seconds (exit 1)")
    ] = None,
    show_sql: Annotated[bool, typer.Option("--sql", help="Print the compiled SQL")] = False,
    url: RemoteUrl = None,
    api_key: ApiKeyOption = None,
    database_url: DatabaseUrl = None,
    warehouse_url: WarehouseUrl = None,
    as_json: JsonOutput = False,
) -> None:
    """Keep an experiment's exposed units that reached the qualifying event (or, with
    --mode exclude, the others), with sample-ratio tests and the bias guard."""
    from qualevents.client import analysis_body

    body = analysis_body(
        assignment_source=assignment_source,
        experiment_id=experiment,
        start=start,
        end=end,
        mode=mode.value,
        window=parse_window(window),
        match_against=match_against.value,
        replace_exposure_timestamp=replace_exposure_timestamp or None,
        event_filter=event_filter,
        expected_split=parse_split(expected_split),
        unit_type=unit_type,
        wait=wait,
    )
    try:
        if url:
            with _client(url, api_key) as client, err.status("Starting the analysis") as status:
                answer = client.wait_for(
                    client.start_filter_exposures(name, body),
                    timeout_s=timeout,
                    on_progress=_progress(status, time.monotonic()),
                )
                data, job = (
                    answer.data,
                    answer.job.model_dump(by_alias=True) if answer.job else None,
                )
        else:
            with err.status("The warehouse is working"):
                data, job = _run_locally(name, body, database_url, warehouse_url), None
    except QualeventsError as error:
        fail(error)
    emit(
        {"data": data, "job": job} if job else {"data": data},
        as_json,
        lambda: print_filtered(data, job, show_sql),
    )


def _run_locally(
    name: str, body: dict[str, Any], database_url: str | None, warehouse_url: str | None
) -> dict[str, Any]:
    """The analysis in this process, on the settings' store and warehouse (no job)."""
    from qualevents.analysis import FilterExposuresRequest, run_filter_exposures
    from qualevents.cli.common import open_local_store
    from qualevents.runtime import open_warehouse_for

    settings = settings_from(database_url=database_url, warehouse_url=warehouse_url)
    warehouse = open_warehouse_for(settings)
    if warehouse is None:
        usage("No warehouse: give --warehouse-url (or $QUALEVENTS_WAREHOUSE_URL) or --url")
    store = open_local_store(database_url)
    try:
        request = FilterExposuresRequest.parse(body)
        event = store.get_event_or_raise(name).event
        assignment = assignment_source_from_store(store, request.assignment_source)
        return run_filter_exposures(warehouse, event, assignment, request)
    finally:
        store.close()
        warehouse.close()


def assignment_source_from_store(store: Any, name: str) -> Any:
    """The assignment source named ``name`` in the local store; 404 naming the option."""
    from qualevents.errors import ErrorItem, NotFound

    stored = store.for_kind("assignment_source").get_event(name)
    if stored is None:
        message = f"No assignment source is named {name!r}"
        raise NotFound(
            f"Assignment source {name} not found", [ErrorItem(("assignmentSource",), message)]
        )
    return stored.event


def _print_job(job: dict[str, Any]) -> None:
    table = Table("field", "value", title=f"job {job['id']}")
    for field in ("analysis", "status", "name", "createdBy", "createdAt", "startedAt"):
        table.add_row(field, str(job.get(field) or ""))
    table.add_row("finishedAt", str(job.get("finishedAt") or ""))
    error = job.get("error")
    if error:
        table.add_row("error", f"{error.get('status')} {error.get('message')}")
    out.print(table)
    if job.get("result") and job.get("analysis") == "filter_exposures":
        print_filtered(job["result"], None, False)
    elif job.get("result") and job.get("analysis") == "power":
        from qualevents.cli.power import render_power

        render_power(job["result"], str(job.get("name")))


def _on_server(url: str | None, api_key: str | None, call: Any) -> Any:
    """What ``call(client)`` answers from the server at ``url`` (jobs live on a server: a
    usage error without ``--url``); a domain error exits 1."""
    if not url:
        usage("--url (or $QUALEVENTS_URL) is required: jobs live on a server")
    try:
        with _client(url, api_key) as client:
            return call(client)
    except QualeventsError as error:
        fail(error)


@jobs_app.command("show")
def show_job(
    job_id: Annotated[str, typer.Argument(help="The job's id")],
    url: RemoteUrl = None,
    api_key: ApiKeyOption = None,
    as_json: JsonOutput = False,
) -> None:
    """A job's status, and its result or error once finished."""
    job = _on_server(url, api_key, lambda client: client.job(job_id)).data.model_dump(by_alias=True)
    emit(job, as_json, lambda: _print_job(job))


@jobs_app.command("cancel")
def cancel_job(
    job_id: Annotated[str, typer.Argument(help="The job's id")],
    url: RemoteUrl = None,
    api_key: ApiKeyOption = None,
    as_json: JsonOutput = False,
) -> None:
    """Cancel a queued or running job and its warehouse query."""
    cancelled = _on_server(url, api_key, lambda client: client.cancel_job(job_id))
    job = cancelled.data.model_dump(by_alias=True)
    emit(job, as_json, lambda: out.print(f"job {job['id']}: {job['status']}", highlight=False))


@jobs_app.command("list")
def list_jobs(
    name: Annotated[str, typer.Argument(help="The qualifying event")],
    limit: Annotated[int, typer.Option(help="Jobs per page", min=1)] = 20,
    page: Annotated[int, typer.Option(help="Page, from 1", min=1)] = 1,
    url: RemoteUrl = None,
    api_key: ApiKeyOption = None,
    as_json: JsonOutput = False,
) -> None:
    """The event's analyses, newest first."""
    listed = _on_server(url, api_key, lambda client: client.analyses(name, limit=limit, page=page))
    jobs = [job.model_dump(by_alias=True) for job in listed.data]

    def render() -> None:
        table = Table("id", "analysis", "status", "created", "by", title=f"analyses of {name}")
        for job in jobs:
            table.add_row(
                job["id"], job["analysis"], job["status"], job["createdAt"], job["createdBy"] or ""
            )
        out.print(table)

    emit(jobs, as_json, render)
