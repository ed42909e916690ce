"""``pull``, ``plan`` and ``apply``: config as code, a folder of YAML files (``sync.files``)
against the local database (and warehouse) or a server (``--url``), with the same output
either way: locally the commands call the same ``SyncService`` and the same rendering
(``api.plans``) the server's ``/-/plan`` and ``/-/apply`` use (``cli.targets``); what
they print is ``cli.plan_view``.

Exit codes: 0 done (``plan --detailed-exitcode``: no changes), 1 an error (a file, a
conflict, an invalid change; with ``--detailed-exitcode`` usage errors too), 2 a usage
error (``plan --detailed-exitcode``: there are changes)."""

from __future__ import annotations

import enum
import json
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
    fail,
    usage,
)
from qualevents.cli.plan_view import annotate, print_error, render_applied, render_plan, say
from qualevents.cli.targets import Local, Remote, backend
from qualevents.errors import ErrorItem, InvalidRequest, QualeventsError

__all__ = ["PANEL", "apply", "plan", "pull"]

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
        print_error(error, as_json)
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
        print_error(error, as_json)
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        render_applied(status, data)
