"""The console's reading pages: the list of sources (every kind, search, filters, pages),
a source's page, one revision with its diff, and the audit log. None of them calls the
warehouse: the data a source selects loads from ``console.data``.
Imports ``models``, ``api.deps``, ``console.*``.
"""

from __future__ import annotations

import difflib
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from qualevents.api.deps import context_of
from qualevents.console.auth import require_session
from qualevents.console.definition import to_form
from qualevents.console.kinds import BY_SLUG, KINDS, ConsoleKind
from qualevents.console.render import LeavePage, error_page, page
from qualevents.errors import NotFound

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
# Every source of a kind is read for the list's search and filters (the store's cached
# list page); more than this in one kind would need the store to filter.
MOST_LISTED = 100_000


def kind_of(request: Request, slug: str) -> ConsoleKind:
    kind = BY_SLUG.get(slug)
    if kind is None:
        raise LeavePage(
            error_page(request, 404, "Not found", f"There is no kind of source {slug!r}.")
        )
    return kind


def _number(text: str | None, default: int = 1) -> int:
    return int(text) if text and text.isdigit() and 0 < int(text) < 10**9 else default


MODES = {
    "warehouse": "Checked against the warehouse",
    "static": "Checked from the SQL text only (no warehouse reached)",
    "declared": "Schema declared (not checked against the warehouse)",
}


def state_of(document: dict[str, Any], report: dict[str, Any] | None) -> tuple[str, str]:
    """A source's validation state from the report kept at its last write: (css class,
    words). Without one (written before reports were kept, or by an approved review),
    what is certain: a write that fails its checks is refused, so it passed them."""
    if report is None:
        if document.get("skip_validation"):
            return "declared", MODES["declared"]
        return "valid", "Passed its checks when last written"
    words = MODES.get(report.get("mode", ""), "Checked")
    warnings = len(report.get("warnings") or [])
    if warnings:
        return "warning", f"{words}: {warnings} warning{'' if warnings == 1 else 's'}"
    return ("declared" if report.get("mode") == "declared" else "valid"), words


def _row(kind: ConsoleKind, document: dict[str, Any], report: Any) -> dict[str, Any]:
    owner = document.get("owner") or {}
    state, state_text = state_of(document, report)
    return {
        "kind": kind,
        "name": document["name"],
        "description": document.get("description") or "",
        "tags": document.get("tags") or [],
        "owner": owner.get("owner_name") or owner.get("owner_id") or "",
        "state": state,
        "state_text": state_text,
    }


def _matches(row: dict[str, Any], q: str, tag: str, owner: str) -> bool:
    if q and q not in row["name"].lower() and q not in row["description"].lower():
        return False
    if tag and tag not in [t.lower() for t in row["tags"]]:
        return False
    return not owner or owner in row["owner"].lower()


def list_rows(context: Any, kinds: list[ConsoleKind]) -> list[dict[str, Any]]:
    rows = []
    for kind in kinds:
        service = kind.service(context)
        found = service.list_documents(1, MOST_LISTED)
        reports = service.store.validation_reports()
        rows += [_row(kind, doc, reports.get(doc["name"])) for doc in found.items]
    return rows


@router.get("/sources")
async def sources(request: Request) -> Response:
    await require_session(request)
    context = context_of(request)
    params = request.query_params
    slug = params.get("kind", "")
    kinds = [BY_SLUG[slug]] if slug in BY_SLUG else list(KINDS)
    q, tag, owner = (params.get(n, "").strip() for n in ("q", "tag", "owner"))
    rows = await context.blocking(list_rows, context, kinds)
    every_tag = sorted({t for row in rows for t in row["tags"]}, key=str.lower)
    every_owner = sorted({row["owner"] for row in rows if row["owner"]}, key=str.lower)
    rows = [row for row in rows if _matches(row, q.lower(), tag.lower(), owner.lower())]
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    number = min(_number(params.get("page")), pages)
    shown = rows[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
    base = {k: v for k, v in (("kind", slug), ("q", q), ("tag", tag), ("owner", owner)) if v}
    return page(
        request,
        "list.html",
        rows=shown,
        total=len(rows),
        number=number,
        pages=pages,
        base=base,
        selected_kind=slug if slug in BY_SLUG else "",
        q=q,
        tag=tag,
        owner=owner,
        every_tag=every_tag,
        every_owner=every_owner,
    )


def numbered_lines(sql: str | None) -> list[tuple[int, str]]:
    return list(enumerate((sql or "").splitlines() or [""], 1))


def _source_page_data(context: Any, kind: ConsoleKind, name: str) -> dict[str, Any]:
    service = kind.service(context)
    stored = service.get(name)
    history = service.revisions(name, 1, 1000)
    report = service.store.validation_reports([name]).get(name)
    return {"stored": stored, "revisions": list(reversed(history.items)), "report": report}


@router.get("/sources/{slug}/{name}")
async def source(request: Request, slug: str, name: str) -> Response:
    await require_session(request)
    kind = kind_of(request, slug)
    context = context_of(request)
    data = await context.blocking(_source_page_data, context, kind, name)
    event = data["stored"].event
    return page(
        request,
        "source.html",
        kind=kind,
        event=event,
        stored=data["stored"],
        revisions=data["revisions"],
        sql_lines=numbered_lines(event.sql),
        shown=to_form(event, kind.fields),
        kept=data["report"],
        state=state_of(event.to_document(), data["report"]),
        rows_allowed=not (
            context.settings.refuse_rows_to_read_only_keys
            and not request.state.console_session.key.can_write
        ),
        done=request.query_params.get("done", ""),
    )


def sql_diff(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The SQL's changes line by line: (``add``|``del``|``same``|``hunk``, text)."""
    before = ((old or {}).get("sql") or "").splitlines()
    after = ((new or {}).get("sql") or "").splitlines()
    if before == after:
        return []
    lines = []
    for line in list(difflib.unified_diff(before, after, "before", "after", lineterm=""))[2:]:
        style = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
        lines.append((style, line))
    return lines


def _revision_data(context: Any, kind: ConsoleKind, name: str, number: int) -> dict[str, Any]:
    service = kind.service(context)
    revision = service.revision(name, number)
    previous = service.store.get_revision(name, number - 1) if number > 1 else None
    current = service.store.get_event(name)
    return {"revision": revision, "previous": previous, "current": current}


@router.get("/sources/{slug}/{name}/revisions/{number}")
async def revision(request: Request, slug: str, name: str, number: str) -> Response:
    await require_session(request)
    kind = kind_of(request, slug)
    if not number.isdigit():
        raise NotFound(f"{name!r} has no revision {number!r}")
    context = context_of(request)
    data = await context.blocking(_revision_data, context, kind, name, int(number))
    revision = data["revision"]
    previous = data["previous"]
    return page(
        request,
        "revision.html",
        kind=kind,
        name=name,
        revision=revision,
        current=data["current"],
        diff=sql_diff(previous.document if previous else None, revision.document),
        sql_lines=numbered_lines((revision.document or {}).get("sql")),
    )


@router.get("/audit")
async def audit(request: Request) -> Response:
    await require_session(request)
    context = context_of(request)
    params = request.query_params
    slug = params.get("kind", "")
    number = _number(params.get("page"))
    found = await context.blocking(
        context.events.audit_log, number, PAGE_SIZE, kind=slug if slug in BY_SLUG else None
    )
    pages = max(1, -(-found.total // PAGE_SIZE))
    return page(
        request,
        "audit.html",
        entries=found.items,
        number=number,
        pages=pages,
        total=found.total,
        selected_kind=slug if slug in BY_SLUG else "",
        base={"kind": slug} if slug in BY_SLUG else {},
    )
