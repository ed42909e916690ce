"""``pull``, ``plan`` and ``apply``: config as code, a folder of YAML files (``sync.files``)
against the local database (and warehouse) or a server (``--url``), with the same output
either way: locally the commands call the same ``SyncService`` and the same rendering
(``api.plans``) the server's ``/-/plan`` and ``/-/apply`` use.

Exit codes: 0 done (``plan --detailed-exitcode``: no changes), 1 an error (a file, a
conflict, an invalid change; with ``--detailed-exitcode`` usage errors too), 2 a usage
error (``plan --detailed-exitcode``: there are changes)."""

from __future__ import annotations

import difflib
import enum
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from qualevents.cli.common import (
    ApiKeyOption,
    DatabaseUrl,
    JsonOutput,
    RemoteUrl,
    WarehouseUrl,
    Yes,
    app,
    confirm,
    err,
    fail,
    open_local_store,
    out,
    settings_from,
    usage,
)
from qualevents.errors import ErrorItem, InvalidRequest, QualeventsError

PLAN_FORMAT = "qualevents-plan"
PLAN_VERSION = 1
PANEL = "Config as code"


class Kind(enum.StrEnum):
    QUALIFYING_EVENT = "qualifying_event"
    METRIC_SOURCE = "metric_source"
    ASSIGNMENT_SOURCE = "assignment_source"


FolderArg = Annotated[
    Path,
    typer.Argument(
        help="The folder (qualevents.yaml, qualifying_events/, metric_sources/, "
        "assignment_sources/)"
    ),
]
Prune = Annotated[
    bool,
    typer.Option("--prune", help="Also delete this folder's sources that it no longer states"),
]


def say(text: str) -> None:
    """One line for people: never wrapped (a diff or a path must stay whole in CI logs)."""
    out.print(text, highlight=False, soft_wrap=True)


# -- where sources live: the local database, or a server -----------------------------------


class Local:
    """The local database (and warehouse, to validate), through the services the API uses."""

    def __init__(self, database_url: str | None, warehouse_url: str | None) -> None:
        self.database_url = database_url
        self.warehouse_url = warehouse_url
        self.store = open_local_store(database_url)
        self._sync: Any = None

    @property
    def target(self) -> str:
        from qualevents.config import mask_url

        return mask_url(settings_from(database_url=self.database_url).database_url)

    def sync(self) -> Any:
        if self._sync is None:
            from qualevents.api.routes.kinds import KINDS as SERVED
            from qualevents.reviews import ReviewService
            from qualevents.runtime import open_warehouse_for
            from qualevents.service import QualifyingEventService
            from qualevents.sync.kinds import BY_NAME
            from qualevents.sync.plan import SyncService
            from qualevents.validation import Validator

            settings = settings_from(
                database_url=self.database_url, warehouse_url=self.warehouse_url
            )
            validator = Validator(open_warehouse_for(settings))
            # As create_app builds them: each kind's reserved names and renames.
            services = {
                kind.name: QualifyingEventService(
                    self.store.for_kind(kind.name),
                    validator,
                    reserved_names=kind.reserved_names,
                    renames=kind.renames,
                )
                for kind in SERVED
                if kind.name in BY_NAME
            }
            first = services["qualifying_event"]
            self._sync = SyncService(services, ReviewService(first.store, first))
        return self._sync

    def documents(self, kind: str) -> list[dict[str, Any]]:
        from qualevents.wire import to_wire

        store = self.store.for_kind(kind)
        found, offset = [], 0
        while True:
            page = store.list_event_documents(offset, 1000)
            found += [to_wire(document) for document in page.items]
            offset += 1000
            if offset >= page.total or not page.items:
                return found

    def plan(self, body: dict[str, Any]) -> dict[str, Any]:
        from qualevents.api.plans import desired_of, plan_to_wire
        from qualevents.wire import PlanBody

        parsed = _parse(PlanBody, body)
        return plan_to_wire(
            self.sync().plan(parsed.sync_id, desired_of(parsed), prune=parsed.prune)
        )

    def apply(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        import getpass

        from qualevents.api.plans import applied_to_wire, changes_of
        from qualevents.store.base import Actor
        from qualevents.wire import ApplyBody

        parsed = _parse(ApplyBody, body)
        applied = self.sync().apply(
            parsed.sync_id,
            changes_of(parsed),
            Actor(None, f"cli:{getpass.getuser()}"),
            read_only=parsed.read_only,
            review=True,
        )
        return (202 if applied.held else 200), applied_to_wire(applied)


def _parse(model: Any, body: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    from qualevents.api.errors import from_pydantic

    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise from_pydantic(exc) from None


class Remote:
    """A qualevents server (or Statsig's Console API, for reads)."""

    def __init__(
        self, url: str, api_key: str | None, *, review: bool = True, **options: Any
    ) -> None:
        from qualevents.client import Client

        if not api_key:
            usage("--api-key (or $STATSIG_API_KEY) is required with --url")
        self.url = url
        # apply's mutations ask to respect the project's review settings.
        self.client = Client(url, api_key, review=review, **options)

    @property
    def target(self) -> str:
        return self.url.rstrip("/")

    @contextmanager
    def reaching(self) -> Iterator[None]:
        """A server that cannot be reached is a domain error (exit 1), not a traceback."""
        import httpx

        try:
            yield
        except httpx.HTTPError as exc:
            raise QualeventsError(
                f"Cannot reach {self.target}: {type(exc).__name__}: {exc}"
            ) from None

    def documents(self, kind: str, on_page: Any = None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            with self.reaching():
                answer = self.client.list_qualifying_events(limit=100, page=page, kind=kind)
            items = answer.body.get("data") or []
            found += [item for item in items if isinstance(item, dict)]
            if on_page is not None:
                on_page(len(items), answer.pagination)
            if not answer.pagination or not answer.pagination.next_page or not items:
                return found
            page += 1

    def plan(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.reaching():
            return self.client.plan(body).body["data"]

    def apply(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.reaching():
            answer = self.client.apply(body)
        return answer.status, answer.body["data"]


def backend(
    url: str | None, api_key: str | None, database_url: str | None, warehouse_url: str | None
) -> Local | Remote:
    if url:
        if database_url or warehouse_url:
            usage("--url talks to a server: --database-url and --warehouse-url are local")
        return Remote(url, api_key)
    return Local(database_url, warehouse_url)


# -- rendering -----------------------------------------------------------------------------


def annotate(plan: dict[str, Any], folder: Any) -> dict[str, Any]:
    """Each change's errors with the file, line and column they are about."""
    for change in plan.get("changes", []):
        source = folder.find(change["kind"], change["name"]) if folder else None
        for item in [
            *change.get("errors", []),
            *((change.get("validation") or {}).get("errors") or []),
        ]:
            if source is None:
                continue
            prop = item.get("property") or ""
            if prop == "sql" and isinstance(item.get("line"), int):
                where = source.sql_position(item["line"], int(item.get("column") or 1))
            else:
                where = source.position_of_property(prop)
            item["file"], item["fileLine"], item["fileColumn"] = (
                where.file,
                where.line,
                where.column,
            )
    return plan


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _field_diff(field: str, old: Any, new: Any) -> list[str]:
    if isinstance(old, str) and isinstance(new, str) and (field == "sql" or "\n" in old + new):
        lines = difflib.unified_diff(
            old.splitlines(),
            new.splitlines(),
            f"{field} (stored)",
            f"{field} (folder)",
            lineterm="",
        )
        return [f"    {field}:"] + [f"      {line}" for line in lines]
    if old is None:
        return [f"    {field}: {_value(new)}"]
    if new is None:
        return [f"    {field}: {_value(old)} -> (unset)"]
    return [f"    {field}: {_value(old)} -> {_value(new)}"]


SYMBOLS = {"create": ("+", "green"), "update": ("~", "yellow"), "delete": ("-", "red")}


def _item_line(item: dict[str, Any], colour: str, word: str) -> str:
    from rich.markup import escape

    where = f"{item['file']}:{item['fileLine']}:{item['fileColumn']}: " if "file" in item else ""
    where = escape(where)
    prop = f"{item['property']}: " if item.get("property") else ""
    return f"    [{colour}]{word}[/{colour}] {where}{prop}{item.get('errorMessage')}"


def render_plan(plan: dict[str, Any]) -> None:
    from rich.markup import escape

    counts = {"create": 0, "update": 0, "delete": 0}
    for change in plan["changes"]:
        counts[change["action"]] += 1
        symbol, colour = SYMBOLS[change["action"]]
        noun = change["kind"].replace("_", " ")
        revision = f" (revision {change['baseRevision']})" if change.get("baseRevision") else ""
        file = f"  [dim]{escape(change['file'])}[/dim]" if change.get("file") else ""
        say(
            f"[{colour}]{symbol} {change['action']}[/{colour}] {noun} "
            f"{escape(repr(change['name']))}{revision}{file}",
        )
        if change["action"] == "update":
            for field, diff in change["changes"].items():
                for line in _field_diff(field, diff.get("old"), diff.get("new")):
                    say(escape(line))
        report = change.get("validation") or {}
        errors = [*change.get("errors", []), *(report.get("errors") or [])]
        for item in errors:
            say(
                _item_line(
                    {**item, "errorMessage": escape(str(item.get("errorMessage")))}, "red", "error"
                ),
            )
        for item in report.get("warnings") or []:
            say(
                _item_line(
                    {**item, "errorMessage": escape(str(item.get("errorMessage")))},
                    "yellow",
                    "warning",
                ),
            )
        if change["action"] != "delete" and not errors:
            mode = report.get("mode") or "checked"
            say(f"    [green]valid[/green] ({mode})")
    left = plan.get("leftAlone") or []
    if left and plan.get("prune"):
        say(
            f"{len(left)} stored source(s) not in the folder are not managed by it and are "
            "left alone",
        )
    if not plan["changes"]:
        say(f"No changes. {plan['unchanged']} source(s) match the folder.")
        return
    say(
        f"Plan: {counts['create']} to create, {counts['update']} to update, "
        f"{counts['delete']} to delete; {plan['unchanged']} unchanged.",
    )
    if not plan["valid"]:
        say("[red]The plan has errors: apply would refuse it.[/red]")


# -- commands ------------------------------------------------------------------------------


def _read(folder_path: Path) -> Any:
    from qualevents.sync.files import read_folder

    if not folder_path.is_dir():
        raise InvalidRequest(
            f"{folder_path} is not a folder",
            [ErrorItem((), "Give the folder holding qualevents.yaml")],
        )
    return read_folder(folder_path)


def _plan_body(folder: Any, prune: bool) -> dict[str, Any]:
    return {
        "syncId": folder.sync_id,
        "prune": prune,
        "sources": [
            {"kind": source.kind.name, "data": source.data, "file": source.file}
            for source in folder.sources
        ],
    }


@app.command(rich_help_panel=PANEL)
def pull(
    folder: FolderArg,
    kind: Annotated[
        list[Kind] | None, typer.Option("--kind", help="Only sources of this kind (repeatable)")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Only sources with this tag (repeatable)")
    ] = None,
    url: RemoteUrl = None,
    api_key: ApiKeyOption = None,
    database_url: DatabaseUrl = None,
    as_json: JsonOutput = False,
) -> None:
    """Write every source (or those of --kind / --tag) into FOLDER, one YAML file each.
    Pulling twice changes nothing; files of other sources are left as they are."""
    from qualevents.sync.files import slug, write_folder
    from qualevents.sync.kinds import KINDS

    try:
        where = backend(url, api_key, database_url, None)
        wanted = {k.value for k in kind} if kind else {k.name for k in KINDS}
        documents = {}
        for sync_kind in KINDS:
            if sync_kind.name not in wanted:
                continue
            found = where.documents(sync_kind.name)
            if tag:
                found = [d for d in found if set(d.get("tags") or []) & set(tag)]
            documents[sync_kind.name] = found
        summary = write_folder(folder, documents, default_sync_id=slug(folder.resolve().name))
    except QualeventsError as error:
        fail(error)
    total = sum(len(found) for found in documents.values())
    result = {"sources": total, "written": summary.written, "unchanged": summary.unchanged}

    def render() -> None:
        for file in summary.written:
            say(f"wrote {file}")
        say(
            f"Pulled {total} source(s) into {folder}: {len(summary.written)} file(s) written, "
            f"{len(summary.unchanged)} unchanged.",
        )

    if as_json:
        print(json.dumps(result, indent=2))
    else:
        render()


def make_plan(where: Local | Remote, folder_path: Path, prune: bool) -> dict[str, Any]:
    folder = _read(folder_path)
    plan = annotate(where.plan(_plan_body(folder, prune)), folder)
    return {
        "format": PLAN_FORMAT,
        "version": PLAN_VERSION,
        "target": where.target,
        "folder": str(folder_path),
        "plan": plan,
    }


def _print_folder_error(error: QualeventsError, as_json: bool = False) -> None:
    """An error on stderr, each item at its file, line and column when it has them; with
    ``--json``, also the error as JSON on stdout (for CI annotations)."""
    from rich.markup import escape

    if as_json:
        items = [
            {**item.extra, "property": ".".join(map(str, item.loc)), "message": item.message}
            for item in error.errors
        ]
        print(json.dumps({"error": error.message, "errors": items}, indent=2))

    err.print(f"[red]error:[/red] {escape(error.message)}", highlight=False, soft_wrap=True)
    for item in error.errors:
        if "file" in item.extra:
            where = f"{item.extra['file']}:{item.extra['line']}:{item.extra['column']}: "
        else:
            where = f"{'.'.join(map(str, item.loc))}: " if item.loc else ""
        err.print(f"  {escape(where + item.message)}", highlight=False, soft_wrap=True)


@app.command(rich_help_panel=PANEL)
def plan(
    folder: FolderArg,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Save the plan here, for `apply PLAN`")
    ] = None,
    prune: Prune = False,
    detailed_exitcode: Annotated[
        bool,
        typer.Option(
            "--detailed-exitcode",
            help="Exit 0 for no changes, 2 for changes, 1 for any error (as Terraform's)",
        ),
    ] = False,
    url: RemoteUrl = None,
    api_key: ApiKeyOption = None,
    database_url: DatabaseUrl = None,
    warehouse_url: WarehouseUrl = None,
    as_json: JsonOutput = False,
) -> None:
    """Print what `apply` would do: creates, updates (field by field, SQL as a unified
    diff), deletes (--prune), and each change's validation against the warehouse."""
    try:
        where = backend(url, api_key, database_url, warehouse_url)
        saved = make_plan(where, folder, prune)
    except typer.Exit as leaving:
        raise typer.Exit(1 if detailed_exitcode else leaving.exit_code) from None
    except QualeventsError as error:
        _print_folder_error(error, as_json)
        raise typer.Exit(1) from None
    made = saved["plan"]
    if out_file is not None:
        out_file.write_text(json.dumps(saved, indent=2, ensure_ascii=False) + "\n")
    if as_json:
        print(json.dumps(made, indent=2, ensure_ascii=False))
    else:
        render_plan(made)
        if out_file is not None:
            say(f"Saved the plan to {out_file}; apply it with: qualevents apply {out_file}")
    if not made["valid"]:
        raise typer.Exit(1)
    if detailed_exitcode and made["changes"]:
        raise typer.Exit(2)


def _load_plan(path: Path) -> dict[str, Any]:
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidRequest(
            f"{path} is not a saved plan: {exc}",
            [ErrorItem((), "Make one with: qualevents plan DIR --out PLAN")],
        ) from None
    if not isinstance(saved, dict) or saved.get("format") != PLAN_FORMAT:
        raise InvalidRequest(
            f"{path} is not a saved plan",
            [ErrorItem((), "Make one with: qualevents plan DIR --out PLAN")],
        )
    if saved.get("version") != PLAN_VERSION:
        raise InvalidRequest(f"{path} is a plan of version {saved.get('version')}; plan again")
    return saved


def _render_applied(status: int, data: dict[str, Any]) -> None:
    from rich.markup import escape

    if status == 202:
        for request in data["changeRequests"]:
            say(
                f"change request {request['id']}: {request['action']} "
                f"{escape(repr(request['name']))} waits for review",
            )
        say(f"Opened {len(data['changeRequests'])} change request(s); nothing applied yet.")
        return
    for change in data["applied"]:
        symbol, colour = SYMBOLS[change["action"]]
        revision = f" (revision {change['revision']})" if change.get("revision") else ""
        say(
            f"[{colour}]{symbol}[/{colour}] {change['action']}d "
            f"{change['kind'].replace('_', ' ')} {escape(repr(change['name']))}{revision}",
        )
    say(f"Applied {len(data['applied'])} change(s).")


@app.command(rich_help_panel=PANEL)
def apply(
    source: Annotated[
        Path, typer.Argument(help="A plan saved by `plan --out`, or a folder (plan and apply)")
    ],
    prune: Prune = False,
    yes: Yes = False,
    no_read_only: Annotated[
        bool,
        typer.Option("--no-read-only", help="Do not mark the sources written isReadOnly"),
    ] = False,
    url: RemoteUrl = None,
    api_key: ApiKeyOption = None,
    database_url: DatabaseUrl = None,
    warehouse_url: WarehouseUrl = None,
    as_json: JsonOutput = False,
) -> None:
    """Apply exactly a saved plan (each source must still be at the revision it was planned
    on), or plan FOLDER and apply that; all changes or none. Asks first when applying a
    folder or deleting (--yes skips; without it, refuses when stdin is not a terminal).
    When the project requires reviews, opens one change request per change instead."""
    try:
        where = backend(url, api_key, database_url, warehouse_url)
        if source.is_dir():
            saved = make_plan(where, source, prune)
            made = saved["plan"]
            if not as_json:
                render_plan(made)
        else:
            saved = _load_plan(source)
            made = saved["plan"]
            if prune and not made.get("prune"):
                usage(f"{source} was planned without --prune; plan again with --prune")
            if saved.get("target") != where.target:
                raise InvalidRequest(
                    f"{source} was planned against {saved.get('target')}, not {where.target}",
                    [ErrorItem((), "Apply it where it was planned, or plan again here")],
                )
        if not made["valid"]:
            raise InvalidRequest(
                "The plan has errors; nothing was applied",
                [ErrorItem((), "Fix them and plan again")],
            )
        if not made["changes"]:
            if as_json:
                print(json.dumps({"applied": [], "changeRequests": []}, indent=2))
            else:
                say("No changes to apply.")
            return
        deletes = sum(1 for change in made["changes"] if change["action"] == "delete")
        if source.is_dir() or deletes:
            confirm(
                f"Apply {len(made['changes'])} change(s) ({deletes} deletion(s)) to "
                f"{where.target}?",
                yes,
            )
        body = {
            "syncId": made["syncId"],
            "readOnly": not no_read_only,
            "changes": [
                {
                    "kind": change["kind"],
                    "name": change["name"],
                    "action": change["action"],
                    "baseRevision": change["baseRevision"],
                    "data": change["data"],
                }
                for change in made["changes"]
            ],
        }
        status, data = where.apply(body)
    except QualeventsError as error:
        _print_folder_error(error, as_json)
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        _render_applied(status, data)
