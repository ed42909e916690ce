"""``validate``, ``preview``, ``daily`` and ``experiments``: definitions of every kind
against the warehouse, locally (store and warehouse from the settings) or through a server
(``--url``)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from qualevents.cli.common import (
    ApiKeyOption,
    DatabaseUrl,
    JsonOutput,
    KindOption,
    RemoteUrl,
    SourceKind,
    WarehouseUrl,
    app,
    client_for,
    emit,
    fail,
    open_local_store,
    out,
    settings_from,
    usage,
)
from qualevents.errors import QualeventsError

_client = client_for


def _print_rows(rows: list[dict[str, object]], title: str, as_json: bool = False) -> None:
    if as_json:
        emit(rows, True, lambda: None)
        return
    if not rows:
        out.print(f"{title}: no rows")
        return
    table = Table(*rows[0].keys(), title=title)
    for row in rows:
        table.add_row(*("" if value is None else str(value) for value in row.values()))
    out.print(table)


def _print_report(report: dict[str, object], as_json: bool = False) -> None:
    if as_json:
        emit(report, True, lambda: None)
        return
    valid = report.get("valid")
    out.print(
        f"valid: {'[green]yes[/green]' if valid else '[red]no[/red]'}   mode: {report.get('mode')}"
    )
    columns = report.get("columns") or []
    if columns:
        table = Table("column", "type", title="output columns")
        for column in columns:  # type: ignore[union-attr]
            table.add_row(str(column["name"]), str(column["type"]))
        out.print(table)
    for kind, colour in (("errors", "red"), ("warnings", "yellow")):
        for item in report.get(kind) or []:  # type: ignore[union-attr]
            where = item.get("property") or "request"
            out.print(f"[{colour}]{kind[:-1]}[/{colour}] {where}: {item.get('errorMessage')}")


def _local_runtime(
    database_url: str | None,
    warehouse_url: str | None,
    kind: SourceKind = SourceKind.QUALIFYING_EVENT,
):
    from qualevents.runtime import open_warehouse_for
    from qualevents.service import QualifyingEventService
    from qualevents.validation import Validator

    settings = settings_from(database_url=database_url, warehouse_url=warehouse_url)
    validator = Validator(open_warehouse_for(settings))
    store = open_local_store(database_url).for_kind(kind.value)
    return QualifyingEventService(store, validator), validator


@app.command(rich_help_panel="Definitions and data")
def validate(
    path: Annotated[
        typer.FileText, typer.Argument(help="A JSON file with the event, '-' for stdin")
    ],
    url: RemoteUrl = None,
    api_key: ApiKeyOption = None,
    database_url: DatabaseUrl = None,
    warehouse_url: WarehouseUrl = None,
    as_json: JsonOutput = False,
    kind: KindOption = SourceKind.QUALIFYING_EVENT,
) -> None:
    """Check a definition as a create would (nothing is saved). Exit 1 when invalid."""
    import json

    from pydantic import ValidationError

    from qualevents.api.convert import event_from_body
    from qualevents.api.errors import error_body, from_pydantic, render_item
    from qualevents.models import source_model
    from qualevents.wire import CREATE_BODIES

    raw = path.read()
    if url:
        try:
            sent = json.loads(raw)
        except ValueError as exc:
            fail(QualeventsError(f"{path.name} is not JSON: {exc}"))
        try:
            answer = _client(url, api_key).validate_qualifying_event(sent, kind=kind.value)
        except QualeventsError as error:
            _print_report({"valid": False, "errors": error_body(error)["errors"]}, as_json)
            raise typer.Exit(1) from None
        report = answer.body.get("validation") or {"valid": True, "mode": "unknown"}
        _print_report(report, as_json)
        return
    _service, validator = _local_runtime(database_url, warehouse_url)
    try:
        body = CREATE_BODIES[kind.value].model_validate_json(raw)
        event = event_from_body(body, body.name, source_model(kind.value))  # type: ignore[attr-defined]
        event.check()
        report = validator.validate(event)
    except ValidationError as exc:
        _print_report({"valid": False, "errors": error_body(from_pydantic(exc))["errors"]}, as_json)
        raise typer.Exit(1) from None
    except QualeventsError as error:
        _print_report({"valid": False, "errors": error_body(error)["errors"]}, as_json)
        raise typer.Exit(1) from None
    _print_report(report.to_dict(render_item), as_json)
    if not report.valid:
        raise typer.Exit(1)


@app.command(rich_help_panel="Definitions and data")
def preview(
    name: Annotated[str, typer.Argument(help="The source's name")],
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    days: Annotated[int, typer.Option(min=1, help="Look back this many days")] = 7,
    url: RemoteUrl = None,
    api_key: ApiKeyOption = None,
    database_url: DatabaseUrl = None,
    warehouse_url: WarehouseUrl = None,
    as_json: JsonOutput = False,
    kind: KindOption = SourceKind.QUALIFYING_EVENT,
) -> None:
    """Show sample rows a stored definition selects."""
    try:
        if url:
            answer = _client(url, api_key).preview(name, limit=limit, days=days, kind=kind.value)
            rows = answer.data
        else:
            service, validator = _local_runtime(database_url, warehouse_url, kind)
            rows = validator.preview(service.get(name).event, limit=limit, days=days)
    except QualeventsError as error:
        fail(error)
    _print_rows(rows, f"{name}: preview", as_json)


@app.command(rich_help_panel="Definitions and data")
def daily(
    name: Annotated[str, typer.Argument(help="The source's name")],
    start: Annotated[str | None, typer.Option(help="First day YYYY-MM-DD")] = None,
    end: Annotated[str | None, typer.Option(help="Last day YYYY-MM-DD (default today)")] = None,
    url: RemoteUrl = None,
    api_key: ApiKeyOption = None,
    database_url: DatabaseUrl = None,
    warehouse_url: WarehouseUrl = None,
    as_json: JsonOutput = False,
    kind: KindOption = SourceKind.QUALIFYING_EVENT,
) -> None:
    """Events and distinct units per day, counted in the warehouse."""
    from datetime import date, timedelta

    try:
        last = date.fromisoformat(end) if end else date.today()
        first = date.fromisoformat(start) if start else last - timedelta(days=29)
    except ValueError:
        usage("--start and --end take dates as YYYY-MM-DD")
    try:
        if url:
            client = _client(url, api_key)
            rows = client.daily(
                name, start=first.isoformat(), end=last.isoformat(), kind=kind.value
            ).data
        else:
            service, validator = _local_runtime(database_url, warehouse_url, kind)
            rows = validator.daily(service.get(name).event, first, last)
    except QualeventsError as error:
        fail(error)
    if as_json:
        emit(rows, True, lambda: None)
        return
    flat = [{"date": r["date"], "events": r["events"], **r.get("units", {})} for r in rows]
    _print_rows(flat, f"{name}: daily")


@app.command(rich_help_panel="Definitions and data")
def experiments(
    name: Annotated[str, typer.Argument(help="The assignment source's name")],
    start: Annotated[str | None, typer.Option(help="First day YYYY-MM-DD (default: all)")] = None,
    end: Annotated[str | None, typer.Option(help="Last day YYYY-MM-DD (default today)")] = None,
    unit_type: Annotated[
        str | None, typer.Option("--unit-type", help="The statsigUnitID to count units of")
    ] = None,
    url: RemoteUrl = None,
    api_key: ApiKeyOption = None,
    database_url: DatabaseUrl = None,
    warehouse_url: WarehouseUrl = None,
    as_json: JsonOutput = False,
) -> None:
    """The experiments an assignment source holds: groups, units, crossovers, first and
    last exposure (the scan, one query in the warehouse)."""
    from datetime import date

    try:
        first = date.fromisoformat(start) if start else None
        last = date.fromisoformat(end) if end else None
    except ValueError:
        usage("--start and --end take dates as YYYY-MM-DD")
    try:
        if url:
            answer = _client(url, api_key).experiments(
                name, start=start, end=end, unit_type=unit_type
            )
            found = [item.model_dump(by_alias=True, exclude_none=True) for item in answer.data]
        else:
            service, validator = _local_runtime(
                database_url, warehouse_url, SourceKind.ASSIGNMENT_SOURCE
            )
            result = validator.scan(
                service.get(name).event, start=first, end=last, unit_type=unit_type
            )
            found = [experiment.to_dict() for experiment in result.experiments]
    except QualeventsError as error:
        fail(error)
    if as_json:
        emit(found, True, lambda: None)
        return
    experiments_table = [
        {
            "experiment": item["experimentID"],
            "units": item["units"],
            "crossover": item["crossoverUnits"],
            "first exposure": item["firstExposure"],
            "last exposure": item["lastExposure"],
        }
        for item in found
    ]
    _print_rows(experiments_table, f"{name}: experiments")
    groups = [
        {
            "experiment": item["experimentID"],
            "group": group["groupID"],
            "name": group.get("groupName"),
            "units": group["units"],
        }
        for item in found
        for group in item["groups"]
    ]
    if groups:
        _print_rows(groups, f"{name}: groups")
