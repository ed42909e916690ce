"""``settings`` and ``events``: project settings and edits of definitions of every kind
(``--kind``), through the service on the local database (no server needed), or, for list,
show and delete, through a server (``--url``). Local edits refuse sources marked
``isReadOnly`` unless ``--force``: those are managed through the API (e.g. by Terraform)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from qualevents.cli.common import (
    ApiKeyOption,
    DatabaseUrl,
    JsonOutput,
    KindOption,
    RemoteUrl,
    SourceKind,
    WarehouseUrl,
    Yes,
    app,
    client_for,
    confirm,
    emit,
    fail,
    open_local_store,
    out,
    settings_from,
)
from qualevents.errors import ErrorItem, Forbidden, QualeventsError

settings_app = typer.Typer(help="Project settings, e.g. whether changes need a review.")
events_app = typer.Typer(
    help="Sources of every kind (--kind; qualifying events by default) in the local database "
    "(no server needed), or on a server (--url: list, show, delete)."
)
app.add_typer(settings_app, name="settings", rich_help_panel="Service")
app.add_typer(events_app, name="events", rich_help_panel="Definitions and data")

Force = Annotated[bool, typer.Option("--force", help="Also change an isReadOnly event")]


def _services(
    database_url: str | None,
    warehouse_url: str | None = None,
    *,
    validate=False,
    kind: SourceKind = SourceKind.QUALIFYING_EVENT,
):
    """The services on the local database (the sources of ``kind``); with ``validate``,
    writes are checked against the configured warehouse as the API checks them (statically
    with ``none``)."""
    from qualevents.reviews import ReviewService
    from qualevents.service import QualifyingEventService

    store = open_local_store(database_url).for_kind(kind.value)
    validator = None
    if validate:
        from qualevents.runtime import open_warehouse_for
        from qualevents.validation import Validator

        settings = settings_from(database_url=database_url, warehouse_url=warehouse_url)
        try:
            validator = Validator(open_warehouse_for(settings))
        except QualeventsError as error:
            fail(error)
    events = QualifyingEventService(store, validator)
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


def _show_settings(values: dict[str, str], as_json: bool) -> None:
    wire = {"requireReviews": values.get("require_reviews") == "true"}

    def render() -> None:
        for key, value in values.items():
            out.print(f"{key.replace('_', '-')} = {value}")

    emit(wire, as_json, render)


@settings_app.command("show")
def settings_show(database_url: DatabaseUrl = None, as_json: JsonOutput = False) -> None:
    """Print the project settings."""
    _, reviews = _services(database_url)
    _show_settings(reviews.settings(), as_json)


@settings_app.command("set")
def settings_set(
    require_reviews: Annotated[
        bool | None,
        typer.Option(
            "--require-reviews/--no-require-reviews",
            help="Hold API mutations sent with x-respect-review-settings for review",
            show_default=False,
        ),
    ] = None,
    database_url: DatabaseUrl = None,
    as_json: JsonOutput = False,
) -> None:
    """Change project settings, e.g. `settings set --require-reviews`."""
    if require_reviews is None:
        raise typer.BadParameter(
            "give at least one setting, e.g. --require-reviews", param_hint="settings"
        )
    _, reviews = _services(database_url)
    reviews.set_reviews_required(require_reviews)
    _show_settings(reviews.settings(), as_json)


@events_app.command("list")
def events_list(
    database_url: DatabaseUrl = None,
    as_json: JsonOutput = False,
    kind: KindOption = SourceKind.QUALIFYING_EVENT,
    url: RemoteUrl = None,
    api_key: ApiKeyOption = None,
) -> None:
    """List sources of a kind (name, source, unit ids, revision; with --url as the API
    lists them)."""
    from qualevents.api.convert import event_to_wire

    if url:
        listed = []
        page = 1
        try:
            with client_for(url, api_key) as client:
                while True:
                    found = client.list_qualifying_events(limit=1000, page=page, kind=kind.value)
                    listed += [
                        item.model_dump(by_alias=True, exclude_none=True) for item in found.data
                    ]
                    if found.pagination is None or found.pagination.next_page is None:
                        break
                    page += 1
        except QualeventsError as error:
            fail(error)
        emit(listed, as_json, lambda: _render_remote(listed))
        return
    events, _ = _services(database_url, kind=kind)
    stored_events = []
    page = 1
    while True:
        found = events.list(page, 1000)
        stored_events += found.items
        if page * 1000 >= found.total:
            break
        page += 1

    def render() -> None:
        table = Table("name", "source", "unit ids", "revision", "updated")
        for stored in stored_events:
            event = stored.event
            table.add_row(
                event.name,
                event.table_name or "query",
                ", ".join(m.statsig_unit_id for m in event.id_type_mapping or []),
                str(stored.revision),
                stored.updated_at.isoformat(timespec="seconds"),
            )
        out.print(table)

    emit([event_to_wire(stored.event) for stored in stored_events], as_json, render)


def _render_remote(listed: list[dict]) -> None:
    table = Table("name", "source", "unit ids")
    for item in listed:
        table.add_row(
            item["name"],
            item.get("tableName") or "query",
            ", ".join(m["statsigUnitID"] for m in item.get("idTypeMapping") or []),
        )
    out.print(table)


@events_app.command("show")
def events_show(
    name: str,
    database_url: DatabaseUrl = None,
    as_json: JsonOutput = True,
    kind: KindOption = SourceKind.QUALIFYING_EVENT,
    url: RemoteUrl = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Print one source as the API returns it (always JSON; --json is accepted)."""
    from qualevents.api.convert import event_to_wire

    try:
        if url:
            with client_for(url, api_key) as client:
                read = client.get_qualifying_event(name, kind=kind.value)
            shown = read.body["data"]
        else:
            events, _ = _services(database_url, kind=kind)
            shown = event_to_wire(events.get(name).event)
    except QualeventsError as error:
        fail(error)
    print(json.dumps(shown, indent=2))


@events_app.command("apply")
def events_apply(
    path: Annotated[typer.FileText, typer.Argument(help="Event JSON (API format), '-' for stdin")],
    force: Force = False,
    database_url: DatabaseUrl = None,
    warehouse_url: WarehouseUrl = None,
    as_json: JsonOutput = False,
    kind: KindOption = SourceKind.QUALIFYING_EVENT,
) -> None:
    """Create the source, or replace it when the name exists (like the API's update), after
    the checks the API runs: the domain's, then the SQL's against the warehouse (a missing
    table or column stops it; nothing is stored)."""
    from qualevents.api.convert import event_from_body
    from qualevents.api.errors import from_pydantic
    from qualevents.models import source_model
    from qualevents.wire import CREATE_BODIES

    events, _ = _services(database_url, warehouse_url, validate=True, kind=kind)
    try:
        body = CREATE_BODIES[kind.value].model_validate_json(path.read())
    except ValidationError as exc:
        fail(from_pydantic(exc))
    event = event_from_body(body, body.name, source_model(kind.value))  # type: ignore[attr-defined]
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
    emit(
        {"action": verb, "name": event.name, "revision": result.revision},
        as_json,
        lambda: out.print(f"{verb} {event.name!r} (revision {result.revision})"),
    )


@events_app.command("delete")
def events_delete(
    name: str,
    force: Force = False,
    yes: Yes = False,
    database_url: DatabaseUrl = None,
    kind: KindOption = SourceKind.QUALIFYING_EVENT,
    url: RemoteUrl = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Delete a source (its history stays readable). Asks first unless --yes."""
    noun = kind.value.replace("_", " ")
    try:
        if url:
            with client_for(url, api_key) as client:
                client.get_qualifying_event(name, kind=kind.value)  # a 404 before asking
                confirm(f"Delete {noun} {name!r} on {url}?", yes)
                client.delete_qualifying_event(name, kind=kind.value)
            out.print(f"deleted {name!r}")
            return
        events, _ = _services(database_url, kind=kind)
        current = events.get(name)
        _refuse_read_only(name, current.event.is_read_only, force)
        confirm(f"Delete {noun} {name!r}?", yes)
        events.delete(name, _local_actor())
    except QualeventsError as error:
        fail(error)
    out.print(f"deleted {name!r}")
