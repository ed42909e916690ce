"""Shared pieces of the CLI: the Typer app, consoles, common options and helpers.
Imports ``config`` and ``errors``; the commands live in the modules beside it.

Exit codes: 0 success, 1 a domain error (``fail``: not found, invalid, refused), 2 a usage
error (click's own, and ``usage``: a missing option, a destructive command without
``--yes`` when stdin is not a terminal)."""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from qualevents import __version__
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


def _version(value: bool) -> None:
    if value:
        print(f"qualevents {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit"
        ),
    ] = False,
) -> None:
    """qualevents: a self-hostable, Statsig-compatible Console API for qualifying events."""


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


def fail(error: QualeventsError) -> NoReturn:
    """A domain error: printed, exit 1. Escaped: a message such as
    "pip install 'qualevents[bigquery]'" is not markup."""
    err.print(f"[red]error:[/red] {escape(str(error))}", markup=True, highlight=False)
    raise typer.Exit(1)


def usage(message: str) -> NoReturn:
    """A usage error: printed, exit 2 (as click does for its own)."""
    err.print(f"[red]usage error:[/red] {escape(message)}", markup=True, highlight=False)
    raise typer.Exit(2)


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def confirm(question: str, yes: bool) -> None:
    """Go on only when ``--yes`` was given or a person at a terminal says so; without a
    terminal (a script, a pipe) refuse rather than guess."""
    if yes:
        return
    if not stdin_is_terminal():
        usage(f"{question} Refusing without --yes: stdin is not a terminal")
    if not typer.confirm(question, default=False, err=True):
        err.print("aborted")
        raise typer.Exit(1)


def emit(data: Any, as_json: bool, render: Callable[[], None]) -> None:
    """``data`` as JSON on stdout for scripts, else ``render()`` for people."""
    if as_json:
        print(json.dumps(data, indent=2, default=str))
    else:
        render()


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
        "--url",
        envvar="QUALEVENTS_URL",
        help="A qualevents server to ask instead of the local database and warehouse",
    ),
]
JsonOutput = Annotated[
    bool, typer.Option("--json", help="Print JSON (for scripts) instead of tables")
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")]
ApiKeyOption = Annotated[
    str | None,
    typer.Option("--api-key", envvar="STATSIG_API_KEY", help="Console key for --url"),
]
WarehouseUrl = Annotated[
    str | None,
    typer.Option("--warehouse-url", help="Warehouse (default: $QUALEVENTS_WAREHOUSE_URL)"),
]


class SourceKind(enum.StrEnum):
    """The kinds of source the commands take (``--kind``)."""

    QUALIFYING_EVENT = "qualifying_event"
    METRIC_SOURCE = "metric_source"
    ASSIGNMENT_SOURCE = "assignment_source"


KindOption = Annotated[SourceKind, typer.Option("--kind", help="The kind of source the name is of")]


def client_for(url: str, api_key: str | None) -> Any:
    """The client of the server at ``url`` (a usage error without a key)."""
    from qualevents.client import Client

    if not api_key:
        usage("--api-key (or $STATSIG_API_KEY) is required with --url")
    return Client(url, api_key)
