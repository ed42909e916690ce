"""Plans and applied plans (``sync.plan``) into response dictionaries shaped like the
``wire`` models ``PlanData`` and ``ApplyData``: the one rendering, used by the API and by
the CLI's local commands, so a plan reads the same from a server and from a database.
Imports ``sync``, ``api.convert``, ``api.errors``, ``wire``.
"""

from __future__ import annotations

from typing import Any

from qualevents.api.convert import change_request_to_wire, changes_to_wire, report_to_wire
from qualevents.api.errors import render_item
from qualevents.sync.plan import Applied, ChangeToApply, DesiredSource, Plan, PlannedChange
from qualevents.wire import ApplyBody, PlanBody, to_wire


def desired_of(body: PlanBody) -> list[DesiredSource]:
    return [DesiredSource(s.kind, s.data, s.file) for s in body.sources]


def changes_of(body: ApplyBody) -> list[ChangeToApply]:
    return [ChangeToApply(c.kind, c.name, c.action, c.base_revision, c.data) for c in body.changes]


def planned_change_to_wire(change: PlannedChange) -> dict[str, Any]:
    return {
        "kind": change.kind,
        "name": change.name,
        "action": change.action,
        "baseRevision": change.base_revision,
        "file": change.file,
        "data": to_wire(change.event.to_document()) if change.event is not None else None,
        "changes": changes_to_wire(change.changes),
        "valid": change.valid,
        "validation": report_to_wire(change.report),
        "errors": [render_item(item) for item in change.errors],
    }


def plan_to_wire(plan: Plan) -> dict[str, Any]:
    return {
        "syncId": plan.sync_id,
        "prune": plan.prune,
        "valid": plan.valid,
        "changes": [planned_change_to_wire(change) for change in plan.changes],
        "unchanged": plan.unchanged,
        "leftAlone": [{"kind": kind, "name": name} for kind, name in plan.left_alone],
    }


def applied_to_wire(applied: Applied) -> dict[str, Any]:
    return {
        "applied": [
            {"kind": c.kind, "name": c.name, "action": c.action, "revision": revision}
            for c, revision in applied.changes
        ],
        "changeRequests": [change_request_to_wire(r) for r in applied.change_requests],
    }


def applied_message(applied: Applied) -> str:
    if applied.held:
        return (
            f"{len(applied.change_requests)} change request(s) opened; the changes wait for "
            "review (nothing was applied)."
        )
    return f"Plan applied: {len(applied.changes)} change(s)."
