"""Reviews: project settings and change requests. When reviews are required and a mutation
carries ``x-respect-review-settings: true``, the change is checked, then held as a pending
change request instead of applied; another key approves (applies it atomically) or rejects
it. Imports ``models``, ``errors``, ``service``, ``store``.
"""

from __future__ import annotations

from typing import Any

from qualevents.errors import (
    ErrorItem,
    Forbidden,
    NameInUse,
    NotFound,
    PreconditionFailed,
    QualifyingEventNotFound,
    revision_mismatch,
)
from qualevents.models import ChangeRequest, ChangeRequestStatus, Source
from qualevents.service import QualifyingEventService, merge_changes
from qualevents.store.base import Actor, Page

REQUIRE_REVIEWS = "require_reviews"
SETTINGS = {REQUIRE_REVIEWS: "false"}


class ReviewService:
    def __init__(self, store: Any, events: QualifyingEventService) -> None:
        self.store = store
        self.events = events
        # Each kind's service, to apply a held change to the kind it was made for.
        self.services: dict[str, QualifyingEventService] = {store.kind: events}

    def for_kind(self, service: QualifyingEventService) -> ReviewService:
        """This review queue, submitting changes to ``service``'s kind (one shared queue:
        approving applies each request to its own kind)."""
        self.services[service.store.kind] = service
        other = ReviewService(service.store, service)
        other.services = self.services
        return other

    # -- settings -----------------------------------------------------------------------

    def settings(self) -> dict[str, str]:
        return {key: self.store.get_setting(key) or default for key, default in SETTINGS.items()}

    def reviews_required(self) -> bool:
        return (self.store.get_setting(REQUIRE_REVIEWS) or "false") == "true"

    def set_reviews_required(self, required: bool) -> None:
        self.store.set_setting(REQUIRE_REVIEWS, "true" if required else "false")

    # -- requests -----------------------------------------------------------------------

    def submit(
        self,
        action: str,
        name: str,
        actor: Actor,
        *,
        event: Source | None = None,
        changes: dict[str, Any] | None = None,
        expected_revision: int | None = None,
    ) -> ChangeRequest:
        """Check the change as if applying it (a dry run), then hold it for review."""
        base: int | None = None
        payload: dict[str, Any] | None = None
        if action == "create":
            assert event is not None
            result = self.events.create(event, actor, dry_run=True)
            payload = result.event.to_document()
        elif action == "update":
            assert event is not None
            result = self.events.update(
                name, event, actor, dry_run=True, expected_revision=expected_revision
            )
            payload = result.event.to_document()
        elif action == "patch":
            result = self.events.patch(
                name, changes or {}, actor, dry_run=True, expected_revision=expected_revision
            )
            payload = dict(changes or {})
        elif action != "delete":
            raise ValueError(action)
        if action != "create":
            current = self.events.get(name)
            if expected_revision is not None and current.revision != expected_revision:
                raise revision_mismatch(name, current.revision, expected_revision)
            base = current.revision
        return self.store.create_change_request(name, action, payload, base, actor)

    def get(self, request_id: int) -> ChangeRequest:
        found = self.store.get_change_request(request_id)
        if found is None:
            raise NotFound(
                f"No change request {request_id}",
                [ErrorItem(("id",), f"Unknown change request {request_id}")],
            )
        return found

    def list(
        self, page: int, limit: int, status: ChangeRequestStatus | None = None
    ) -> Page[ChangeRequest]:
        return self.store.list_change_requests((page - 1) * limit, limit, status=status)

    def approve(self, request_id: int, reviewer: Actor) -> ChangeRequest:
        request = self.get(request_id)
        if request.author_key_id is not None and request.author_key_id == reviewer.key_id:
            raise Forbidden(
                "A change request cannot be approved by the key that made it",
                [ErrorItem(("STATSIG-API-KEY",), "Use another full-access key to approve")],
            )
        try:
            event = self._event_to_apply(request)
            return self.store.approve_change_request(request, reviewer, event)
        except (PreconditionFailed, QualifyingEventNotFound, NameInUse) as exc:
            if request.status is ChangeRequestStatus.PENDING:
                self.store.decide_change_request(
                    request.id, ChangeRequestStatus.STALE, reviewer, reason=exc.message
                )
            raise PreconditionFailed(
                f"Change request {request.id} cannot be applied: {request.event_name!r} "
                "changed since it was made; it is now stale",
                [ErrorItem((), exc.message)],
            ) from exc

    def _event_to_apply(self, request: ChangeRequest) -> Source | None:
        if request.action == "delete":
            return None
        if request.action == "patch":
            current = self.services[request.kind].get(request.event_name)
            if current.revision != request.base_revision:
                raise PreconditionFailed(
                    f"{request.event_name!r} is at revision {current.revision}, "
                    f"the request was made on {request.base_revision}"
                )
            event = merge_changes(current.event, request.payload or {})
        else:
            event = self.services[request.kind].model.from_document(request.payload or {})
        self.services[request.kind].check(event)
        return event

    def reject(self, request_id: int, reviewer: Actor, reason: str | None = None) -> ChangeRequest:
        return self.store.decide_change_request(
            request_id, ChangeRequestStatus.REJECTED, reviewer, reason=reason
        )
