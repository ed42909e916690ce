"""What the config-as-code commands print: a plan (each change, its field diff with SQL as
a unified diff, its validation with every error at its file, line and column), an applied
plan, an error. Imports ``cli.common``, ``errors``."""

from __future__ import annotations

import difflib
import json
from typing import Any

from qualevents.cli.common import err, out
from qualevents.errors import QualeventsError


def say(text: str) -> None:
    """One line for people: never wrapped (a diff or a path must stay whole in CI logs)."""
    out.print(text, highlight=False, soft_wrap=True)


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


def print_error(error: QualeventsError, as_json: bool = False) -> None:
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


def render_applied(status: int, data: dict[str, Any]) -> None:
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
