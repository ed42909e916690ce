"""The console's forms that change sources: create and edit (each with a "check" button that
runs the same validation as a write, as a dry run, and saves nothing), delete and restore
(each after a confirmation page). Every POST needs a full-access key's session and its
CSRF token; the service does the work, through ``api.deps.warehouse_call`` like the API.
Imports ``errors``, ``models``, ``api.deps``, ``console.*``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from qualevents.api.deps import actor_of, context_of, warehouse_call
from qualevents.console.auth import checked_form, require_session
from qualevents.console.definition import changed_fields, event_from_form, to_form
from qualevents.console.kinds import ConsoleKind
from qualevents.console.pages import kind_of
from qualevents.console.render import page, redirect, source_url
from qualevents.errors import (
    ErrorItem,
    InvalidRequest,
    NotFound,
    PreconditionFailed,
    QualeventsError,
    WarehouseError,
)

router = APIRouter(include_in_schema=False)


def _form_page(
    request: Request,
    kind: ConsoleKind,
    values: dict[str, str],
    *,
    editing: str | None = None,
    revision: int | None = None,
    errors: list[ErrorItem] | None = None,
    report: Any = None,
    message: str = "",
    status: int = 200,
) -> Response:
    errors = errors or []
    # Problems of a field on the form go next to it (and are linked from the summary).
    by_field: dict[str, list[ErrorItem]] = {}
    for item in errors:
        field = str(item.loc[0]) if item.loc else ""
        if field in values or field == "name":
            by_field.setdefault(field, []).append(item)
    return page(
        request,
        "form.html",
        status,
        kind=kind,
        values=values,
        editing=editing,
        revision=revision,
        errors=errors,
        by_field=by_field,
        report=report,
        message=message,
    )


def _failure(error: QualeventsError) -> tuple[list[ErrorItem], str, int]:
    """A write's refusal as the form shows it: items at their fields, a message, a status."""
    if isinstance(error, PreconditionFailed):
        message = (
            "Someone changed this source since you opened the form. Open it again to "
            "see the current definition, then make your change."
        )
        return [], message, 409
    if isinstance(error, WarehouseError):
        return list(error.errors), f"The warehouse could not check it: {error.message}", 502
    if isinstance(error, InvalidRequest):
        return list(error.errors) or [ErrorItem((), error.message)], "", 400
    return [], error.message, error.status


@router.get("/sources/{slug}/-/new")
async def new(request: Request, slug: str) -> Response:
    await require_session(request, write=True)
    kind = kind_of(request, slug)
    return _form_page(request, kind, to_form(None, kind.fields))


@router.post("/sources/{slug}/-/new")
async def create(request: Request, slug: str) -> Response:
    session = await require_session(request, write=True)
    kind = kind_of(request, slug)
    form = await checked_form(request, session)
    values = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    name = values.get("name", "")
    event, problems = event_from_form(name, form, kind.fields, kind.model)
    if event is None:
        return _form_page(request, kind, values, errors=problems, status=400)
    dry_run = form.get("action") == "check"
    context = context_of(request)
    try:
        result = await warehouse_call(
            context,
            kind.service(context).create,
            event,
            actor_of(session.key),
            dry_run=dry_run,
        )
    except QualeventsError as error:
        errors, message, status = _failure(error)
        return _form_page(request, kind, values, errors=errors, message=message, status=status)
    if dry_run:
        return _form_page(request, kind, values, report=result.report, message="check")
    return redirect(source_url(kind.slug, event.name, "?done=created"))


@router.get("/sources/{slug}/{name}/edit")
async def edit(request: Request, slug: str, name: str) -> Response:
    await require_session(request, write=True)
    kind = kind_of(request, slug)
    context = context_of(request)
    stored = await context.blocking(kind.service(context).get, name)
    return _form_page(
        request, kind, to_form(stored.event, kind.fields), editing=name, revision=stored.revision
    )


def _revision_of(form: Any) -> int | None:
    text = str(form.get("revision") or "")
    return int(text) if text.isdigit() else None


@router.post("/sources/{slug}/{name}/edit")
async def update(request: Request, slug: str, name: str) -> Response:
    session = await require_session(request, write=True)
    kind = kind_of(request, slug)
    form = await checked_form(request, session)
    context = context_of(request)
    service = kind.service(context)
    stored = await context.blocking(service.get, name)
    values = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    values["name"] = name
    revision = _revision_of(form)
    changes, problems = changed_fields(stored.event, form, kind.fields)
    if problems:
        return _form_page(
            request, kind, values, editing=name, revision=revision, errors=problems, status=400
        )
    dry_run = form.get("action") == "check"
    try:
        result = await warehouse_call(
            context,
            service.patch,
            name,
            changes,
            actor_of(session.key),
            dry_run=dry_run,
            expected_revision=revision,
        )
    except QualeventsError as error:
        errors, message, status = _failure(error)
        return _form_page(
            request,
            kind,
            values,
            editing=name,
            revision=revision,
            errors=errors,
            message=message,
            status=status,
        )
    if dry_run:
        return _form_page(
            request,
            kind,
            values,
            editing=name,
            revision=revision,
            report=result.report,
            message="check",
        )
    return redirect(source_url(kind.slug, name, "?done=saved" if changes else "?done=unchanged"))


def _confirm(request: Request, kind: ConsoleKind, name: str, **values: Any) -> Response:
    return page(request, "confirm.html", kind=kind, name=name, **values)


@router.get("/sources/{slug}/{name}/delete")
async def confirm_delete(request: Request, slug: str, name: str) -> Response:
    await require_session(request, write=True)
    kind = kind_of(request, slug)
    context = context_of(request)
    stored = await context.blocking(kind.service(context).get, name)
    return _confirm(request, kind, name, action="delete", revision=stored.revision)


@router.post("/sources/{slug}/{name}/delete")
async def delete(request: Request, slug: str, name: str) -> Response:
    session = await require_session(request, write=True)
    kind = kind_of(request, slug)
    form = await checked_form(request, session)
    context = context_of(request)
    try:
        await context.blocking(
            kind.service(context).delete,
            name,
            actor_of(session.key),
            expected_revision=_revision_of(form),
        )
    except PreconditionFailed:
        return _confirm(
            request,
            kind,
            name,
            action="delete",
            revision=None,
            problem="It changed since you asked; look at it again before deleting it.",
        )
    return redirect(f"/sources?kind={kind.slug}&done=deleted")


def _number(request: Request, number: str) -> int:
    if not number.isdigit():
        raise NotFound(f"No revision {number!r}")
    return int(number)


@router.get("/sources/{slug}/{name}/revisions/{number}/restore")
async def confirm_restore(request: Request, slug: str, name: str, number: str) -> Response:
    await require_session(request, write=True)
    kind = kind_of(request, slug)
    context = context_of(request)
    revision = await context.blocking(
        kind.service(context).revision, name, _number(request, number)
    )
    return _confirm(request, kind, name, action="restore", restoring=revision)


@router.post("/sources/{slug}/{name}/revisions/{number}/restore")
async def restore(request: Request, slug: str, name: str, number: str) -> Response:
    session = await require_session(request, write=True)
    kind = kind_of(request, slug)
    await checked_form(request, session)
    context = context_of(request)
    wanted = _number(request, number)
    try:
        await warehouse_call(
            context, kind.service(context).restore, name, wanted, actor_of(session.key)
        )
    except QualeventsError as error:
        revision = await context.blocking(kind.service(context).revision, name, wanted)
        errors, message, status = _failure(error)
        problem = message or "; ".join(item.message for item in errors)
        response = _confirm(
            request, kind, name, action="restore", restoring=revision, problem=problem
        )
        response.status_code = status
        return response
    return redirect(source_url(kind.slug, name, f"?done=restored&from={wanted}"))
