"""``settings`` and ``events``: project settings and local edits of definitions, through
the service on the local database (no server needed). Local edits refuse events marked
``isReadOnly`` unless ``--force``: those are managed through the API (e.g. by Terraform)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from qualevents.cli.common import DatabaseUrl, app, fail, open_local_store, out
from qualevents.errors import ErrorItem, Forbidden, QualeventsError

settings_app = typer.Typer(help="Project settings, e.g. whether changes need a review.")
events_app = typer.Typer(help="Qualifying events in the local database (no server needed).")
app.add_typer(settings_app, name="settings", rich_help_panel="Service")
app.add_typer(events_app, name="events", rich_help_panel="Definitions and data")

SETTING_NAMES = {"require-reviews": "require_reviews"}
Force = Annotated[bool, typer.Option("--force", help="Also change an isReadOnly event")]


def _services(database_url: str | None):
    from qualevents.reviews import ReviewService
    from qualevents.service import QualifyingEventService

    store = open_local_store(database_url)
    events = QualifyingEventService(store)
    return events, ReviewService(store, events)


def _local_actor():
    import getpass

    from qualevents.store.base import Actor

    return Actor(key_id=None, key_name=f"cli:{getpass.getuser()}")


def _refuse_read_only(name: str, read_only: bool | None, force: bool) -> None:
    if read_only and not force:
        fail(
            Forbidden(
                f"{name!r} is marked isReadOnly: it is managed through the API; "
                "pass --force to change it here anyway",
                [ErrorItem(("isReadOnly",), "Read-only event")],
            )
        )


@settings_app.command("show")
def settings_show(database_url: DatabaseUrl = None) -> None:
    """Print the project settings."""
    _, reviews = _services(database_url)
    for key, value in reviews.settings().items():
        out.print(f"{key.replace('_', '-')} = {value}")


@settings_app.command("set")
def settings_set(
    name: Annotated[str, typer.Argument(help="Setting: require-reviews")],
    value: Annotated[str, typer.Argument(help="true or false")],
    database_url: DatabaseUrl = None,
) -> None:
    """Change a project setting."""
    if name not in SETTING_NAMES:
        fail(QualeventsError(f"Unknown setting {name!r}; known: {', '.join(SETTING_NAMES)}"))
    if value.lower() not in ("true", "false"):
        fail(QualeventsError(f"{name} takes true or false, not {value!r}"))
    _, reviews = _services(database_url)
    reviews.set_reviews_required(value.lower() == "true")
    out.print(f"{name} = {value.lower()}")


@events_app.command("list")
def events_list(database_url: DatabaseUrl = None) -> None:
    """List qualifying events (name, source, unit ids, revision)."""
    events, _ = _services(database_url)
    table = Table("name", "source", "unit ids", "revision", "updated")
    page = 1
    while True:
        found = events.list(page, 1000)
        for stored in found.items:
            event = stored.event
            table.add_row(
                event.name,
                event.table_name or "query",
                ", ".join(m.statsig_unit_id for m in event.id_type_mapping or []),
                str(stored.revision),
                stored.updated_at.isoformat(timespec="seconds"),
            )
        if page * 1000 >= found.total:
            break
        page += 1
    out.print(table)


@events_app.command("show")
def events_show(name: str, database_url: DatabaseUrl = None) -> None:
    """Print one event as the API returns it (JSON)."""
    from qualevents.api.convert import event_to_wire

    events, _ = _services(database_url)
    try:
        stored = events.get(name)
    except QualeventsError as error:
        fail(error)
    print(json.dumps(event_to_wire(stored.event), indent=2))


@events_app.command("apply")
def events_apply(
    path: Annotated[typer.FileText, typer.Argument(help="Event JSON (API format), '-' for stdin")],
    force: Force = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Create the event, or replace it when the name exists (like the API's update).
    Runs the domain checks; warehouse checks need a server or `qualevents validate`."""
    from qualevents.api.convert import event_from_body
    from qualevents.api.errors import from_pydantic
    from qualevents.wire import CreateBody

    events, _ = _services(database_url)
    try:
        body = CreateBody.model_validate_json(path.read())
    except ValidationError as exc:
        fail(from_pydantic(exc))
    event = event_from_body(body, body.name)
    try:
        current = events.store.get_event(event.name, fresh=True)
        if current is None:
            result = events.create(event, _local_actor())
            verb = "created"
        else:
            _refuse_read_only(event.name, current.event.is_read_only, force)
            result = events.update(event.name, event, _local_actor())
            verb = "updated"
    except QualeventsError as error:
        fail(error)
    out.print(f"{verb} {event.name!r} (revision {result.revision})")


@events_app.command("delete")
def events_delete(name: str, force: Force = False, database_url: DatabaseUrl = None) -> None:
    """Delete an event (its history stays readable)."""
    events, _ = _services(database_url)
    try:
        current = events.get(name)
        _refuse_read_only(name, current.event.is_read_only, force)
        events.delete(name, _local_actor())
    except QualeventsError as error:
        fail(error)
    out.print(f"deleted {name!r}")
