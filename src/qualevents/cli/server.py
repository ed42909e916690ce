"""``serve``, ``keys`` and ``db``: running the service and administering its store."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.table import Table

from qualevents.cli.common import (
    DatabaseUrl,
    JsonOutput,
    Yes,
    app,
    confirm,
    emit,
    err,
    fail,
    open_local_store,
    out,
    settings_from,
)
from qualevents.config import mask_url
from qualevents.errors import QualeventsError
from qualevents.models import ApiKey

keys_app = typer.Typer(help="Create, list and revoke console keys (STATSIG-API-KEY).")
db_app = typer.Typer(help="The definitions database: migrations.")
app.add_typer(keys_app, name="keys", rich_help_panel="Service")
app.add_typer(db_app, name="db", rich_help_panel="Service")


@app.command(rich_help_panel="Service")
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
    rate_limit: Annotated[
        str | None,
        typer.Option(
            "--rate-limit",
            help="Per-key limit: off (default), statsig (100/10s and 900/15min) or "
            "N/SECONDS[,N/SECONDS...]",
            show_default=False,
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error")] = "info",
) -> None:
    """Run the HTTP API (migrates the database first)."""
    import uvicorn

    from qualevents.store.engine import create_engine_for
    from qualevents.store.migrate import upgrade

    settings = settings_from(
        database_url=database_url,
        warehouse_url=warehouse_url,
        demo=demo or None,
        rate_limit=rate_limit,
    )
    try:
        from qualevents.ratelimit import parse_rules

        parse_rules(settings.rate_limit)
        engine = create_engine_for(settings.database_url)
        upgrade(engine)
        engine.dispose()
        from qualevents.runtime import prepare_warehouse

        prepare_warehouse(settings)
        if settings.demo:
            _ensure_demo_key(settings.database_url)
        else:
            _hint_without_keys(settings.database_url)
    except QualeventsError as error:
        fail(error)
    # Workers are separate processes: hand them the settings through the environment.
    os.environ["QUALEVENTS_DATABASE_URL"] = settings.database_url
    os.environ["QUALEVENTS_WAREHOUSE_URL"] = settings.warehouse_url
    os.environ["QUALEVENTS_RATE_LIMIT"] = settings.rate_limit
    os.environ["QUALEVENTS_DEMO"] = "false"  # loaded once above, not per worker
    err.print(
        f"qualevents on http://{host}:{port}  database {mask_url(settings.database_url)}  "
        f"warehouse {mask_url(settings.warehouse_url)}",
        highlight=False,
    )
    from qualevents.api.serving import uvicorn_options

    uvicorn.run(
        "qualevents.runtime:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        **uvicorn_options(settings),
    )


def _hint_without_keys(database_url: str) -> None:
    """On a database without a usable key, say how to make one (the server still starts:
    keys can be made while it runs)."""
    from qualevents.runtime import missing_key_hint
    from qualevents.store import open_store

    store = open_store(database_url, cache=False)
    try:
        hint = missing_key_hint(store, database_url)
    finally:
        store.close()
    if hint:
        err.print(f"[yellow]warning:[/yellow] {hint}", highlight=False)


def _ensure_demo_key(database_url: str) -> None:
    """With --demo: on a database without keys, make one so the demo is usable at once; and
    the demo's sources, once."""
    from qualevents.keys import KeyService
    from qualevents.runtime import ensure_demo_sources
    from qualevents.store import open_store

    store = open_store(database_url)
    try:
        keys = KeyService(store)
        if not keys.list():
            key, secret = keys.create("demo")
            err.print(f"demo: created full-access key {key.id}; use it as STATSIG-API-KEY:")
            err.print(secret, highlight=False)
        for created in ensure_demo_sources(store):
            err.print(f"demo: created {created}", highlight=False)
    finally:
        store.close()


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A label to recognise the key by")] = "default",
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Reads only: mutations get 403")
    ] = False,
    database_url: DatabaseUrl = None,
    as_json: JsonOutput = False,
) -> None:
    """Create a console key; its secret is printed once, on the last line."""
    from qualevents.keys import KeyService

    store = open_local_store(database_url)
    try:
        key, secret = KeyService(store).create(name, read_only=read_only)
    except QualeventsError as error:
        fail(error)
    if as_json:
        emit(_key_to_json(key) | {"secret": secret}, True, lambda: None)
        return
    err.print(f"created {key.kind.value} key {key.id} ({key.name}); store the secret now:")
    print(secret)


def _key_to_json(key: ApiKey) -> dict[str, object]:
    return {
        "id": key.id,
        "name": key.name,
        "kind": key.kind.value,
        "createdAt": key.created_at.isoformat(),
        "revokedAt": key.revoked_at.isoformat() if key.revoked_at else None,
    }


@keys_app.command("list")
def keys_list(database_url: DatabaseUrl = None, as_json: JsonOutput = False) -> None:
    """List keys (never their secrets)."""
    from qualevents.keys import KeyService

    keys = KeyService(open_local_store(database_url)).list()

    def render() -> None:
        table = Table("id", "name", "kind", "created", "revoked")
        for key in keys:
            table.add_row(
                key.id,
                key.name,
                key.kind.value,
                key.created_at.isoformat(timespec="seconds"),
                key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "",
            )
        out.print(table)

    emit([_key_to_json(key) for key in keys], as_json, render)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id, from 'keys list'")],
    yes: Yes = False,
    database_url: DatabaseUrl = None,
    as_json: JsonOutput = False,
) -> None:
    """Revoke a key: it is refused from the next request on. Asks first unless --yes."""
    from qualevents.keys import KeyService

    keys = KeyService(open_local_store(database_url))
    known = {key.id for key in keys.list()}
    if key_id in known:
        confirm(f"Revoke key {key_id!r}? Clients using it stop working.", yes)
    try:
        key = keys.revoke(key_id)
    except QualeventsError as error:
        fail(error)
    emit(_key_to_json(key), as_json, lambda: out.print(f"revoked {key.id} ({key.name})"))


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = None, as_json: JsonOutput = False) -> None:
    """Apply pending migrations (serve does this too)."""
    from qualevents.store.engine import create_engine_for
    from qualevents.store.migrate import current_revision, upgrade

    settings = settings_from(database_url=database_url)
    try:
        engine = create_engine_for(settings.database_url)
        upgrade(engine)
        revision = current_revision(engine)
        emit(
            {"database": mask_url(settings.database_url), "revision": revision},
            as_json,
            lambda: out.print(f"database {mask_url(settings.database_url)} at revision {revision}"),
        )
    except QualeventsError as error:
        fail(error)
