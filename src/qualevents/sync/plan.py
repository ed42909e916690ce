"""Plan and apply a folder: ``SyncService.plan`` compares the sources a folder states with
the stored ones and checks each change through the kind's service (the domain's checks,
then the validator's against the warehouse: the API's own); ``SyncService.apply`` checks a
plan's changes again, refuses any whose source moved since its planned revision, and then
writes all of them in one store transaction (or, when the project requires reviews and the
caller respects them, opens one change request per change). Knows nothing of HTTP, files or
the CLI. Imports ``errors``, ``models``, ``service``, ``reviews``, ``store``, ``sync.kinds``.

Bookkeeping a folder does not state is not a difference: a file without ``owner`` or
``isReadOnly`` keeps the stored value, and ``managedBy`` is set by apply only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from qualevents.errors import (
    ErrorItem,
    InvalidRequest,
    PreconditionFailed,
    QualeventsError,
    ValidationFailed,
)
from qualevents.models import Source, StoredQualifyingEvent, document_changes, source_model
from qualevents.reviews import ReviewService
from qualevents.service import QualifyingEventService, Report, owner_of
from qualevents.store.base import Actor, BatchChange
from qualevents.sync.kinds import BY_NAME, SyncKind

# Stored fields a file may leave out without asking to unset them.
KEPT_WHEN_ABSENT = ("owner", "is_read_only")
LIST_PAGE = 1000


@dataclass(frozen=True)
class DesiredSource:
    """A source as a folder states it: its wire document."""

    kind: str
    data: dict[str, Any]
    file: str | None = None


@dataclass
class PlannedChange:
    kind: str
    name: str
    action: str  # create | update | delete
    base_revision: int | None
    event: Source | None  # what the file states (None: delete)
    changes: dict[str, dict[str, Any]]  # snake_case field -> {old, new}
    file: str | None = None
    report: Report | None = None
    errors: list[ErrorItem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors


@dataclass
class Plan:
    sync_id: str
    prune: bool
    changes: list[PlannedChange]
    unchanged: int
    # Stored sources the folder does not state and does not own: never deleted.
    left_alone: list[tuple[str, str]]

    @property
    def valid(self) -> bool:
        return all(change.valid for change in self.changes)


@dataclass(frozen=True)
class ChangeToApply:
    """A change of a saved plan, as sent to apply."""

    kind: str
    name: str
    action: str
    base_revision: int | None
    data: dict[str, Any] | None


@dataclass
class Applied:
    changes: list[tuple[ChangeToApply, int | None]]  # with the revision written
    change_requests: list[Any]  # models.ChangeRequest, when held for review

    @property
    def held(self) -> bool:
        return bool(self.change_requests)


def event_from_wire(kind: SyncKind, data: dict[str, Any]) -> Source:
    """The domain source a wire document describes (pydantic's ValidationError when it does
    not fit the kind's body)."""
    body = kind.body.model_validate(data)
    changes = body.model_dump(exclude_unset=True, exclude={"dry_run"})  # type: ignore[attr-defined]
    if changes.get("description") is None:
        changes["description"] = ""
    return source_model(kind.name).model_validate(changes)


def _shape_error(prefix: tuple[str | int, ...], exc: ValidationError) -> ValidationFailed:
    return ValidationFailed(
        errors=[ErrorItem((*prefix, *error["loc"]), error["msg"]) for error in exc.errors()]
    )


class SyncService:
    """Plans and applies folders over every kind's service (``services``: kind -> service)."""

    def __init__(
        self, services: dict[str, QualifyingEventService], reviews: ReviewService | None = None
    ) -> None:
        self.services = services
        self.reviews = reviews

    def _service(self, kind: str) -> QualifyingEventService:
        if kind not in self.services or kind not in BY_NAME:
            known = ", ".join(k for k in BY_NAME if k in self.services)
            raise InvalidRequest(
                f"Unknown kind {kind!r}", [ErrorItem(("kind",), f"Expected one of: {known}")]
            )
        return self.services[kind]

    def _stored(self, kind: str) -> dict[str, StoredQualifyingEvent]:
        store = self._service(kind).store
        found: dict[str, StoredQualifyingEvent] = {}
        offset = 0
        while True:
            page = store.list_events(offset, LIST_PAGE)
            found.update((stored.event.name, stored) for stored in page.items)
            offset += LIST_PAGE
            if offset >= page.total or not page.items:
                return found

    def _check(
        self, service: QualifyingEventService, event: Source, creating: bool
    ) -> tuple[Report | None, list[ErrorItem]]:
        """The report of the checks a write runs, and the errors that stop it."""
        if creating and event.name in service.reserved_names:
            return None, [ErrorItem(("name",), service.reserved_names[event.name])]
        try:
            return service.check(event), []
        except ValidationFailed as exc:
            return None, list(exc.errors)
        except QualeventsError as exc:  # e.g. the warehouse could not answer
            return None, list(exc.errors) or [ErrorItem((), exc.message)]

    @staticmethod
    def _ownership(stored: StoredQualifyingEvent, sync_id: str) -> list[ErrorItem]:
        """Why this folder may not write ``stored``: another folder manages it, or it is
        marked isReadOnly by whoever manages it outside any folder (Terraform, a person)."""
        owner = stored.event.managed_by
        if owner is not None and owner != sync_id:
            return [
                ErrorItem(
                    ("managed_by",),
                    f"Managed by the folder with syncId {owner!r}, not this one "
                    f"({sync_id!r}): change it there, or delete it there first",
                )
            ]
        if owner is None and stored.event.is_read_only:
            return [
                ErrorItem(
                    ("is_read_only",),
                    "Marked isReadOnly and not managed by this folder: it is managed "
                    "elsewhere (e.g. by Terraform); set isReadOnly to false there to let "
                    "this folder manage it",
                )
            ]
        return []

    # -- plan ---------------------------------------------------------------------------

    def plan(self, sync_id: str, desired: list[DesiredSource], *, prune: bool) -> Plan:
        events: list[tuple[DesiredSource, Source]] = []
        problems: list[ErrorItem] = []
        seen: set[tuple[str, str]] = set()
        for i, source in enumerate(desired):
            kind = BY_NAME.get(source.kind)
            self._service(source.kind)
            assert kind is not None
            try:
                event = event_from_wire(kind, source.data)
            except ValidationError as exc:
                problems += _shape_error(("sources", i, "data"), exc).errors
                continue
            if (source.kind, event.name) in seen:
                problems.append(
                    ErrorItem(("sources", i, "data", "name"), f"{event.name!r} is given twice")
                )
            seen.add((source.kind, event.name))
            events.append((source, event.model_copy(update={"managed_by": None})))
        if problems:
            raise ValidationFailed(errors=problems)
        stored_by_kind = {kind: self._stored(kind) for kind in BY_NAME if kind in self.services}
        changes: list[PlannedChange] = []
        unchanged = 0
        for source, event in events:
            service = self._service(source.kind)
            current = stored_by_kind[source.kind].get(event.name)
            if current is None:
                change = PlannedChange(
                    source.kind,
                    event.name,
                    "create",
                    None,
                    event,
                    document_changes(None, event.to_document()),
                    source.file,
                )
            else:
                kept = {
                    name: getattr(current.event, name)
                    for name in KEPT_WHEN_ABSENT
                    if getattr(event, name) is None
                }
                wanted = event.model_copy(update={**kept, "managed_by": current.event.managed_by})
                diff = document_changes(current.event.to_document(), wanted.to_document())
                if not diff:
                    unchanged += 1
                    continue
                change = PlannedChange(
                    source.kind,
                    event.name,
                    "update",
                    current.revision,
                    event,
                    diff,
                    source.file,
                    errors=self._ownership(current, sync_id),
                )
            report, errors = self._check(service, change.event, current is None)  # type: ignore[arg-type]
            change.report = report
            change.errors += errors
            changes.append(change)
        wanted_names = {(source.kind, event.name) for source, event in events}
        left_alone = []
        for kind, stored in stored_by_kind.items():
            for name, current in stored.items():
                if (kind, name) in wanted_names:
                    continue
                if prune and current.event.managed_by == sync_id:
                    changes.append(
                        PlannedChange(
                            kind,
                            name,
                            "delete",
                            current.revision,
                            None,
                            document_changes(current.event.to_document(), None),
                        )
                    )
                else:
                    left_alone.append((kind, name))
        return Plan(sync_id, prune, changes, unchanged, left_alone)

    # -- apply --------------------------------------------------------------------------

    def _final(
        self,
        change: ChangeToApply,
        event: Source,
        current: StoredQualifyingEvent | None,
        sync_id: str,
        actor: Actor,
        read_only: bool,
    ) -> Source:
        """What apply writes: the file's fields, the bookkeeping it leaves out kept (a new
        source's owner is the key), ``isReadOnly`` set unless the file says or the caller
        opted out, and the folder's mark."""
        update: dict[str, Any] = {"managed_by": sync_id}
        if event.owner is None:
            if current is not None:
                update["owner"] = current.event.owner
            elif actor.key_id is not None:
                update["owner"] = owner_of(actor)
        if event.is_read_only is None:
            if read_only:
                update["is_read_only"] = True
            elif current is not None:
                update["is_read_only"] = current.event.is_read_only
        return event.model_copy(update=update)

    def _conflict(self, change: ChangeToApply, current: StoredQualifyingEvent | None) -> str | None:
        noun = change.kind.replace("_", " ")
        if change.action == "create":
            if current is not None:
                return (
                    f"{noun} {change.name!r} exists now (revision {current.revision}); "
                    "the plan was made when it did not"
                )
            return None
        if current is None:
            return f"{noun} {change.name!r} was deleted since the plan"
        if current.revision != change.base_revision:
            return (
                f"{noun} {change.name!r} is at revision {current.revision}, the plan was "
                f"made on revision {change.base_revision}: it changed since"
            )
        return None

    def apply(
        self,
        sync_id: str,
        changes: list[ChangeToApply],
        actor: Actor,
        *,
        read_only: bool = True,
        review: bool = False,
    ) -> Applied:
        """Check every change (its source still at the planned revision, owned by this
        folder or by none, valid), then write them all at once. PreconditionFailed (412)
        listing every conflict, ValidationFailed (400) listing every invalid change; in
        both cases nothing is written."""
        conflicts: list[ErrorItem] = []
        invalid: list[ErrorItem] = []
        batch: list[BatchChange] = []
        for i, change in enumerate(changes):
            where: tuple[str | int, ...] = ("changes", i)
            service = self._service(change.kind)
            if change.action not in ("create", "update", "delete"):
                raise InvalidRequest(
                    f"Unknown action {change.action!r}",
                    [ErrorItem((*where, "action"), "Expected create, update or delete")],
                )
            current = service.store.get_event(change.name, fresh=True)
            conflict = self._conflict(change, current)
            if conflict is not None:
                conflicts.append(ErrorItem(where, conflict))
                continue
            if current is not None:
                owned = self._ownership(current, sync_id)
                if change.action == "delete" and current.event.managed_by != sync_id:
                    owned = [
                        ErrorItem(
                            ("managed_by",),
                            f"{change.name!r} is not managed by this folder ({sync_id!r}); "
                            "apply deletes only the sources it manages",
                        )
                    ]
                conflicts += [ErrorItem((*where, *item.loc), item.message) for item in owned]
            if change.action == "delete":
                batch.append(
                    BatchChange(change.kind, "delete", change.name, None, change.base_revision)
                )
                continue
            if change.data is None:
                raise InvalidRequest(
                    f"Change {i} ({change.action} {change.name!r}) has no data",
                    [ErrorItem((*where, "data"), "Required for create and update")],
                )
            try:
                event = event_from_wire(BY_NAME[change.kind], change.data)
            except ValidationError as exc:
                raise _shape_error((*where, "data"), exc) from None
            if event.name != change.name:
                raise InvalidRequest(
                    f"Change {i} names {change.name!r} but its data names {event.name!r}",
                    [ErrorItem((*where, "data", "name"), "Must be the change's name")],
                )
            final = self._final(change, event, current, sync_id, actor, read_only)
            _report, errors = self._check(service, final, change.action == "create")
            invalid += [ErrorItem((*where, *item.loc), item.message, item.extra) for item in errors]
            batch.append(
                BatchChange(change.kind, change.action, change.name, final, change.base_revision)
            )
        if conflicts:
            raise PreconditionFailed(
                f"{len(conflicts)} conflict(s) with the plan: nothing was applied; plan again",
                conflicts,
            )
        if invalid:
            raise ValidationFailed(
                f"{len(invalid)} problem(s) in the plan's changes: nothing was applied",
                invalid,
            )
        if review and self.reviews is not None and self.reviews.reviews_required():
            return Applied([], self._submit(batch, actor))
        store = next(iter(self.services.values())).store
        try:
            written = store.apply_changes(batch, actor)
        except (PreconditionFailed, QualeventsError) as exc:
            if exc.status >= 500:
                raise
            raise PreconditionFailed(
                f"The plan could not be applied: {exc.message}; nothing was applied",
                list(exc.errors) or [ErrorItem((), exc.message)],
            ) from exc
        return Applied(
            [
                (change, stored.revision if stored is not None else None)
                for change, stored in zip(changes, written, strict=True)
            ],
            [],
        )

    def _submit(self, batch: list[BatchChange], actor: Actor) -> list[Any]:
        """One change request per change (reviews are per source)."""
        assert self.reviews is not None
        held = []
        for change in batch:
            queue = self.reviews.for_kind(self.services[change.kind])
            held.append(
                queue.submit(
                    change.action,
                    change.name,
                    actor,
                    event=change.event,
                    expected_revision=change.expected_revision,
                )
            )
        return held
