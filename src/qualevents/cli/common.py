"""Shared pieces of the CLI: the Typer app, consoles, common options and helpers.
Imports ``config`` and ``errors``; the commands live in the modules beside it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from qualevents.config import DEFAULT_DATABASE_URL, Settings
from qualevents.errors import QualeventsError

if TYPE_CHECKING:
    from qualevents.store import SQLStore

app = typer.Typer(
    help="qualevents: a self-hostable, Statsig-compatible Console API for qualifying events.\n\n"
    "Quick start:  qualevents keys create --name me   then   qualevents serve --demo",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

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


def settings_from(**overrides: object) -> Settings:
    given = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**given)


def fail(error: QualeventsError) -> None:
    from rich.markup import escape

    # Escaped: a message such as "pip install 'qualevents[bigquery]'" is not markup.
    err.print(f"[red]error:[/red] {escape(str(error))}", markup=True, highlight=False)
    raise typer.Exit(2)


def open_local_store(database_url: str | None) -> SQLStore:
    from qualevents.store import SQLStore, open_store

    settings = settings_from(database_url=database_url)
    try:
        # A command lives for one call: nothing to cache.
        store = open_store(settings.database_url, cache=False)
    except QualeventsError as error:
        fail(error)
    assert isinstance(store, SQLStore)
    return store


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
