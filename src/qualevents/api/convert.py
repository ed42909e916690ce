"""Between the domain and the wire: request bodies into ``QualifyingEvent``s, and domain
records (events, revisions, change requests) into response dictionaries shaped like the
``wire`` response models. Imports ``models``, ``store``, ``wire``, ``api.errors``.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from qualevents.api.errors import render_item
from qualevents.models import ChangeRequest, QualifyingEvent, Source
from qualevents.store.base import Revision
from qualevents.wire import AssignmentSourceWriteBody, WriteBody, to_wire, wire_name

ACTION_TYPES = {
    "create": "qualifying_event_created",
    "update": "qualifying_event_updated",
    "patch": "qualifying_event_updated",
    "restore": "qualifying_event_restored",
    "delete": "qualifying_event_deleted",
}


def event_from_body(
    body: WriteBody | AssignmentSourceWriteBody,
    name: str,
    model: type[Source] = QualifyingEvent,
) -> Source:
    """The source (a ``model``) a create or full-update body describes, named ``name``."""
    changes = body.to_domain_changes()
    changes["name"] = name
    if changes.get("description") is None:
        changes["description"] = ""
    return model.model_validate(changes)


def event_to_wire(event: Source) -> dict[str, Any]:
    return to_wire(event.to_document())


def report_to_wire(report: Any) -> dict[str, Any] | None:
    if report is None or not hasattr(report, "to_dict"):
        return None
    return report.to_dict(render_item)


def changes_to_wire(changes: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        wire_name(field): {"old": to_wire(diff["old"]), "new": to_wire(diff["new"])}
        for field, diff in changes.items()
    }


def change_request_to_wire(request: ChangeRequest) -> dict[str, Any]:
    return {
        "id": request.id,
        "name": request.event_name,
        "action": request.action,
        "status": request.status.value,
        "baseRevision": request.base_revision,
        "data": to_wire(request.payload) if request.payload is not None else None,
        "createdBy": request.author_key_name,
        "createdByKeyID": request.author_key_id,
        "reviewedBy": request.reviewer_key_name,
        "reviewedByKeyID": request.reviewer_key_id,
        "reason": request.reason,
        "createdAt": request.created_at.isoformat(),
        "decidedAt": request.decided_at.isoformat() if request.decided_at else None,
    }


def revision_to_wire(revision: Revision) -> dict[str, Any]:
    return {
        "revision": revision.revision,
        "action": revision.action,
        "data": to_wire(revision.document) if revision.document is not None else None,
        "changes": changes_to_wire(revision.changes),
        "updatedBy": revision.key_name,
        "updatedByKeyID": revision.key_id,
        "createdAt": revision.created_at.isoformat(),
    }


def audit_item(revision: Revision) -> dict[str, Any]:
    """One entry in the shape of Statsig's audit log."""
    fields = [wire_name(field) for field in revision.changes]
    verb = {"create": "Created", "delete": "Deleted", "restore": "Restored"}.get(
        revision.action, "Updated"
    )
    change_log = f"{verb} {revision.kind.replace('_', ' ')} {revision.event_name}"
    if revision.action in ("update", "patch", "restore") and fields:
        change_log += f" ({', '.join(fields)})"
    stamp = revision.created_at.astimezone(UTC)
    tags = (revision.document or {}).get("tags") or []
    return {
        # qualifying events keep their ids from before kinds; other kinds name theirs
        "id": (
            f"{revision.event_name}@{revision.revision}"
            if revision.kind == "qualifying_event"
            else f"{revision.kind}/{revision.event_name}@{revision.revision}"
        ),
        "kind": revision.kind,
        "name": revision.event_name,
        "changeLog": change_log,
        # Statsig's types name the kind: metric_source_created, ...
        "actionType": ACTION_TYPES.get(revision.action, revision.action).replace(
            "qualifying_event", revision.kind, 1
        ),
        "date": stamp.date().isoformat(),
        "time": stamp.isoformat(),
        "updatedBy": revision.key_name,
        "updatedByUserID": revision.key_id,
        "modifierEmail": None,
        "changes": changes_to_wire(revision.changes),
        "tags": tags,
        "revision": revision.revision,
    }
