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
