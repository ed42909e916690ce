"""The ``qualevents`` command: serve, keys, db, and commands that go through the service
(local database) or the client (``--url``). Imports everything below it; nothing imports it.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from qualevents.config import DEFAULT_DATABASE_URL, Settings, mask_url
from qualevents.errors import QualeventsError

if TYPE_CHECKING:
    from qualevents.store.sql import SQLStore

app = typer.Typer(
    help="qualevents: a self-hostable, Statsig-compatible Console API for qualifying events.\n\n"
    "Quick start:  qualevents keys create --name me   then   qualevents serve --demo",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(help="Create, list and revoke console keys (STATSIG-API-KEY).")
db_app = typer.Typer(help="The definitions database: migrations.")
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")

out = Console()
err = Console(stderr=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="Where definitions and keys live (default: $QUALEVENTS_DATABASE_URL, "
        f"else {DEFAULT_DATABASE_URL})",
        show_default=False,
    ),
]


def _settings(**overrides: object) -> Settings:
    given = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**given)


def _fail(error: QualeventsError) -> None:
    err.print(f"[red]error:[/red] {error}", markup=True, highlight=False)
    raise typer.Exit(2)


def _store(database_url: str | None) -> SQLStore:
    from qualevents.store.sql import open_store

    settings = _settings(database_url=database_url)
    try:
        return open_store(settings.database_url)
    except QualeventsError as error:
        _fail(error)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    database_url: DatabaseUrl = None,
    warehouse_url: Annotated[
        str | None,
        typer.Option(
            "--warehouse-url",
            help="Warehouse to check definitions against: duckdb:///path (default), "
            "postgresql://..., bigquery://..., ... or 'none'",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Server processes")] = 1,
    demo: Annotated[
        bool, typer.Option("--demo", help="Load the demo data set into the embedded DuckDB")
    ] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error")] = "info",
) -> None:
    """Run the HTTP API (migrates the database first)."""
    import uvicorn

    from qualevents.store.migrate import upgrade
    from qualevents.store.sql import create_engine_for

    settings = _settings(database_url=database_url, warehouse_url=warehouse_url, demo=demo or None)
    try:
        engine = create_engine_for(settings.database_url)
        upgrade(engine)
        engine.dispose()
        from qualevents.runtime import prepare_warehouse

        prepare_warehouse(settings)
        if settings.demo:
            _ensure_demo_key(settings.database_url)
    except QualeventsError as error:
        _fail(error)
    # Workers are separate processes: hand them the settings through the environment.
    os.environ["QUALEVENTS_DATABASE_URL"] = settings.database_url
    os.environ["QUALEVENTS_WAREHOUSE_URL"] = settings.warehouse_url
    os.environ["QUALEVENTS_DEMO"] = "false"  # loaded once above, not per worker
    err.print(
        f"qualevents on http://{host}:{port}  database {mask_url(settings.database_url)}  "
        f"warehouse {mask_url(settings.warehouse_url)}",
        highlight=False,
    )
    uvicorn.run(
        "qualevents.runtime:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        proxy_headers=False,
    )


def _ensure_demo_key(database_url: str) -> None:
    """With --demo on a database without keys, make one so the demo is usable at once."""
    from qualevents.keys import KeyService
    from qualevents.store.sql import open_store

    store = open_store(database_url)
    try:
        keys = KeyService(store)
        if not keys.list():
            key, secret = keys.create("demo")
            err.print(f"demo: created full-access key {key.id}; use it as STATSIG-API-KEY:")
            err.print(secret, highlight=False)
    finally:
        store.close()


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A label to recognise the key by")] = "default",
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Reads only: mutations get 403")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a console key; its secret is printed once, on the last line."""
    from qualevents.keys import KeyService

    store = _store(database_url)
    try:
        key, secret = KeyService(store).create(name, read_only=read_only)
    except QualeventsError as error:
        _fail(error)
    err.print(f"created {key.kind.value} key {key.id} ({key.name}); store the secret now:")
    print(secret)


@keys_app.command("list")
def keys_list(database_url: DatabaseUrl = None) -> None:
    """List keys (never their secrets)."""
    from qualevents.keys import KeyService

    table = Table("id", "name", "kind", "created", "revoked")
    for key in KeyService(_store(database_url)).list():
        table.add_row(
            key.id,
            key.name,
            key.kind.value,
            key.created_at.isoformat(timespec="seconds"),
            key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "",
        )
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id, from 'keys list'")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a key: it is refused from the next request on."""
    from qualevents.keys import KeyService

    try:
        key = KeyService(_store(database_url)).revoke(key_id)
    except QualeventsError as error:
        _fail(error)
    out.print(f"revoked {key.id} ({key.name})")


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = None) -> None:
    """Apply pending migrations (serve does this too)."""
    from qualevents.store.migrate import current_revision, upgrade
    from qualevents.store.sql import create_engine_for

    settings = _settings(database_url=database_url)
    try:
        engine = create_engine_for(settings.database_url)
        upgrade(engine)
        out.print(
            f"database {mask_url(settings.database_url)} at revision {current_revision(engine)}"
        )
    except QualeventsError as error:
        _fail(error)


def main() -> None:
    try:
        app()
    except QualeventsError as error:  # pragma: no cover - each command handles its own
        err.print(f"error: {error}")
        sys.exit(2)


# -- validation and data, locally or against a server ----------------------------------

RemoteUrl = Annotated[
    str | None,
    typer.Option(
        "--url", help="A qualevents server to ask instead of the local database and warehouse"
    ),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option("--api-key", envvar="STATSIG_API_KEY", help="Console key for --url"),
]
WarehouseUrl = Annotated[
    str | None,
    typer.Option("--warehouse-url", help="Warehouse (default: $QUALEVENTS_WAREHOUSE_URL)"),
]


def _client(url: str, api_key: str | None):
    from qualevents.client import Client

    if not api_key:
        err.print("error: --api-key (or $STATSIG_API_KEY) is required with --url")
        raise typer.Exit(2)
    return Client(url, api_key)


def _print_rows(rows: list[dict[str, object]], title: str) -> None:
    if not rows:
        out.print(f"{title}: no rows")
        return
    table = Table(*rows[0].keys(), title=title)
    for row in rows:
        table.add_row(*("" if value is None else str(value) for value in row.values()))
    out.print(table)


def _print_report(report: dict[str, object]) -> None:
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


def _local_runtime(database_url: str | None, warehouse_url: str | None):
    from qualevents.runtime import open_warehouse_for
    from qualevents.service import QualifyingEventService
    from qualevents.validation import Validator

    settings = _settings(database_url=database_url, warehouse_url=warehouse_url)
    validator = Validator(open_warehouse_for(settings))
    return QualifyingEventService(_store(database_url), validator), validator


@app.command()
def validate(
    path: Annotated[
        typer.FileText, typer.Argument(help="A JSON file with the event, '-' for stdin")
    ],
    url: RemoteUrl = None,
    api_key: ApiKeyOption = None,
    database_url: DatabaseUrl = None,
    warehouse_url: WarehouseUrl = None,
) -> None:
    """Check a definition as a create would (nothing is saved). Exit 1 when invalid."""
    import json

    from pydantic import ValidationError

    from qualevents.api.errors import error_body, from_pydantic, render_item
    from qualevents.api.schemas import CreateBody

    raw = path.read()
    if url:
        try:
            body = _client(url, api_key).validate_qualifying_event(json.loads(raw))
        except QualeventsError as error:
            _print_report({"valid": False, "errors": error_body(error)["errors"]})
            raise typer.Exit(1) from None
        _print_report(body.get("validation") or {"valid": True, "mode": "unknown"})
        return
    _service, validator = _local_runtime(database_url, warehouse_url)
    try:
        body = CreateBody.model_validate_json(raw)
        event = body.to_event(body.name)
        event.check()
        report = validator.validate(event)
    except ValidationError as exc:
        _print_report({"valid": False, "errors": error_body(from_pydantic(exc))["errors"]})
        raise typer.Exit(1) from None
    except QualeventsError as error:
        _print_report({"valid": False, "errors": error_body(error)["errors"]})
        raise typer.Exit(1) from None
    _print_report(report.to_dict(render_item))
    if not report.valid:
        raise typer.Exit(1)


@app.command()
def preview(
    name: Annotated[str, typer.Argument(help="The qualifying event's name")],
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    days: Annotated[int, typer.Option(min=1, help="Look back this many days")] = 7,
    url: RemoteUrl = None,
    api_key: ApiKeyOption = None,
    database_url: DatabaseUrl = None,
    warehouse_url: WarehouseUrl = None,
) -> None:
    """Show sample rows a stored definition selects."""
    try:
        if url:
            rows = _client(url, api_key).preview(name, limit=limit, days=days)
        else:
            service, validator = _local_runtime(database_url, warehouse_url)
            rows = validator.preview(service.get(name).event, limit=limit, days=days)
    except QualeventsError as error:
        _fail(error)
    _print_rows(rows, f"{name}: preview")


@app.command()
def daily(
    name: Annotated[str, typer.Argument(help="The qualifying event's name")],
    start: Annotated[str | None, typer.Option(help="First day YYYY-MM-DD")] = None,
    end: Annotated[str | None, typer.Option(help="Last day YYYY-MM-DD (default today)")] = None,
    url: RemoteUrl = None,
    api_key: ApiKeyOption = None,
    database_url: DatabaseUrl = None,
    warehouse_url: WarehouseUrl = None,
) -> None:
    """Events and distinct units per day, counted in the warehouse."""
    from datetime import date, timedelta

    try:
        last = date.fromisoformat(end) if end else date.today()
        first = date.fromisoformat(start) if start else last - timedelta(days=29)
    except ValueError:
        err.print("error: --start and --end take dates as YYYY-MM-DD")
        raise typer.Exit(2) from None
    try:
        if url:
            rows = _client(url, api_key).daily(name, start=first.isoformat(), end=last.isoformat())
        else:
            service, validator = _local_runtime(database_url, warehouse_url)
            rows = validator.daily(service.get(name).event, first, last)
    except QualeventsError as error:
        _fail(error)
    flat = [{"date": r["date"], "events": r["events"], **r.get("units", {})} for r in rows]
    _print_rows(flat, f"{name}: daily")
