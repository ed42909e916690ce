"""Use cases on sources of one kind (qualifying events, metric sources, assignment sources):
create, read, list, update, patch, delete, renames where the kind allows them, dry runs and
history. Composes the domain model, a validator and the store; knows nothing of HTTP or the
CLI. Imports ``models``, ``errors``, ``store``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from qualevents.errors import (
    ErrorItem,
    Forbidden,
    InvalidRequest,
    NotFound,
    PreconditionFailed,
    QualeventsError,
    ValidationFailed,
    name_in_use,
    revision_mismatch,
)
from qualevents.models import (
    ApiKey,
    OwnerType,
    Source,
    StoredQualifyingEvent,
    source_model,
)
from qualevents.models import Owner as EventOwner
from qualevents.store.base import Actor, Page, Revision, Store

log = logging.getLogger("qualevents.service")
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
# Each failed attempt means another writer committed in between, so N concurrent PATCHes
# need up to N attempts; 5 turned a burst of 6 into a spurious 412 without If-Match.
_PATCH_ATTEMPTS = 50
# Fields a full update keeps when the body leaves them out.
BOOKKEEPING_FIELDS = ("owner", "managed_by")


class Report(Protocol):
    """What a validator returns (``qualevents.validation.ValidationReport``)."""

    valid: bool
    errors: list[ErrorItem]
    warnings: list[ErrorItem]


class EventValidator(Protocol):
    def validate(self, event: Source) -> Report: ...


@dataclass(frozen=True)
class WriteResult:
    """The outcome of a create/update/patch: what is (or would be, for a dry run) stored."""

    event: Source
    stored: StoredQualifyingEvent | None
    report: Report | None
    dry_run: bool

    @property
    def revision(self) -> int | None:
        return self.stored.revision if self.stored else None


class QualifyingEventService:
    """The use cases for sources of the store's kind (qualifying events by default; a
    metric source has the same shape; an assignment source is ``models.AssignmentSource``).
    ``reserved_names``: names this kind refuses on create, with why (Statsig lists metric
    sources at ``/list``). ``renames``: an update body may name the source anew (Statsig's
    assignment sources); otherwise names are immutable."""

    def __init__(
        self,
        store: Store,
        validator: EventValidator | None = None,
        reserved_names: dict[str, str] | None = None,
        *,
        renames: bool = False,
    ) -> None:
        self.store = store
        self.validator = validator
        self.reserved_names = reserved_names or {}
        self.renames = renames
        self.kind: str = getattr(store, "kind", "qualifying_event")
        self.model = source_model(self.kind)
        self.noun = self.kind.replace("_", " ")

    # -- checks -------------------------------------------------------------------------

    def check(self, event: Source) -> Report | None:
        """Every check a write runs: the domain's invariants, then the validator's (SQL,
        warehouse). Raises ValidationFailed listing all problems."""
        event.check()
        if self.validator is None:
            return None
        report = self.validator.validate(event)
        if report.errors:
            raise ValidationFailed(errors=list(report.errors))
        return report

    # -- reads --------------------------------------------------------------------------

    def get(self, name: str) -> StoredQualifyingEvent:
        return self.store.get_event_or_raise(name)

    def peek(self, name: str) -> StoredQualifyingEvent | None:
        """``get`` if the store can answer from memory (no I/O: the event loop may call it),
        else None, and then ``get`` decides."""
        return self.store.peek_event(name)

    def peek_documents(self, page: int, limit: int) -> Page[dict[str, Any]] | None:
        """``list_documents`` from memory alone, as ``peek``."""
        return self.store.peek_event_documents((page - 1) * limit, limit)

    def list(self, page: int, limit: int) -> Page[StoredQualifyingEvent]:
        return self.store.list_events((page - 1) * limit, limit)

    def list_documents(self, page: int, limit: int) -> Page[dict[str, Any]]:
        """As ``list``, each event as its document (``QualifyingEvent.to_document()``)."""
        return self.store.list_event_documents((page - 1) * limit, limit)

    # -- writes -------------------------------------------------------------------------

    def create(self, event: Source, actor: Actor, *, dry_run: bool = False) -> WriteResult:
        if event.owner is None and actor.key_id is not None:
            event = event.model_copy(update={"owner": owner_of(actor)})
        self._check_name(event.name)
        report = self.check(event)
        if dry_run:
            if self.store.get_event(event.name, fresh=True) is not None:
                raise name_in_use(event.name, self.noun)
            return WriteResult(event, None, report, dry_run=True)
        stored = self.store.create_event(event, actor)
        return self._kept(WriteResult(event, stored, report, dry_run=False))

    def _check_name(self, name: str) -> None:
        if name in self.reserved_names:
            raise ValidationFailed(errors=[ErrorItem(("name",), self.reserved_names[name])])

    def _renamed_from(self, name: str, new_name: object) -> str | None:
        """``name`` when a write names the source ``new_name`` instead (a rename, where this
        kind allows it; else a 400), None when the name stays."""
        if new_name == name:
            return None
        if not self.renames:
            raise ValidationFailed(errors=[_immutable_name(name, new_name)])
        if isinstance(new_name, str):
            self._check_name(new_name)
        return name

    def update(
        self,
        name: str,
        event: Source,
        actor: Actor,
        *,
        dry_run: bool = False,
        expected_revision: int | None = None,
    ) -> WriteResult:
        """Replace the definition: fields the body leaves out become unset, except ``owner``
        and ``managed_by``, which are kept (they record who is accountable and which folder
        manages the source, not what the source is). A new name in the body renames the
        source where the kind allows it."""
        current = self.store.get_event_or_raise(name, fresh=True)
        renamed_from = self._renamed_from(name, event.name)
        _check_expected(current, expected_revision)
        kept = {
            field: getattr(current.event, field)
            for field in BOOKKEEPING_FIELDS
            if getattr(event, field) is None and getattr(current.event, field) is not None
        }
        if kept:
            event = event.model_copy(update=kept)
        return self._write(event, actor, "update", dry_run, expected_revision, renamed_from)

    def patch(
        self,
        name: str,
        changes: dict[str, Any],
        actor: Actor,
        *,
        dry_run: bool = False,
        expected_revision: int | None = None,
    ) -> WriteResult:
        """Change only the fields in ``changes`` (snake_case); ``None`` unsets a field. A
        new ``name`` renames the source where the kind allows it."""
        renamed_from = None
        if "name" in changes and changes["name"] != name:
            self.store.get_event_or_raise(name, fresh=True)  # an unknown name is a 404 first
            renamed_from = self._renamed_from(name, changes["name"])
        for attempt in range(_PATCH_ATTEMPTS):
            current = self.store.get_event_or_raise(name, fresh=True)
            _check_expected(current, expected_revision)
            event = merge_changes(current.event, changes)
            try:
                # Without If-Match, a concurrent change between our read and write is merged
                # by retrying on the new state, so no writer's fields are silently dropped.
                return self._write(
                    event,
                    actor,
                    "patch",
                    dry_run,
                    expected_revision or current.revision,
                    renamed_from,
                )
            except PreconditionFailed:
                if expected_revision is not None or attempt == _PATCH_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _write(
        self,
        event: Source,
        actor: Actor,
        action: str,
        dry_run: bool,
        expected_revision: int | None,
        renamed_from: str | None = None,
    ) -> WriteResult:
        report = self.check(event)
        if renamed_from is not None:
            if self.store.get_event(event.name, fresh=True) is not None:
                raise name_in_use(event.name, self.noun)
            if dry_run:
                return WriteResult(event, None, report, dry_run=True)
            stored = self.store.rename_event(
                renamed_from, event, actor, action=action, expected_revision=expected_revision
            )
            return self._kept(WriteResult(event, stored, report, dry_run=False))
        if dry_run:
            return WriteResult(event, None, report, dry_run=True)
        stored = self.store.replace_event(
            event, actor, action=action, expected_revision=expected_revision
        )
        return self._kept(WriteResult(event, stored, report, dry_run=False))

    def _kept(self, result: WriteResult) -> WriteResult:
        """``result``, once its report is kept as the source's state (the console's list
        shows it without asking the warehouse), where the store keeps reports."""
        keep = getattr(self.store, "save_validation_report", None)
        if keep is not None and result.stored is not None:
            report = result.report
            as_dict = report.to_dict() if hasattr(report, "to_dict") else None
            try:
                keep(result.stored.event.name, result.stored.revision, as_dict)
            except QualeventsError:  # the write itself is committed: keep its answer
                log.warning("could not keep the validation report of %r", result.event.name)
        return result

    def delete(self, name: str, actor: Actor, *, expected_revision: int | None = None) -> None:
        self.store.delete_event(name, actor, expected_revision=expected_revision)

    # -- history ------------------------------------------------------------------------

    def revisions(self, name: str, page: int, limit: int) -> Page[Revision]:
        found = self.store.list_revisions(name, (page - 1) * limit, limit)
        if found.total == 0:
            raise NotFound(
                f"No history for {name!r}: no {self.noun} of that name was ever written",
                [ErrorItem(("name",), f"Unknown {self.noun} {name!r}")],
            )
        return found

    def revision(self, name: str, number: int) -> Revision:
        found = self.store.get_revision(name, number)
        if found is None:
            raise NotFound(
                f"{self.noun.capitalize()} {name!r} has no revision {number}",
                [ErrorItem(("revision",), f"No revision {number} of {name!r}")],
            )
        return found

    def restore(
        self, name: str, number: int, actor: Actor, *, expected_revision: int | None = None
    ) -> WriteResult:
        """Write a new revision equal to revision ``number`` (re-creating a deleted event)."""
        old = self.revision(name, number)
        if old.document is None:
            raise InvalidRequest(
                f"Revision {number} of {name!r} is a deletion; restore another revision",
                [ErrorItem(("revision",), "A deletion has no definition to restore")],
            )
        # Under the name it has now: a renamed source's earlier revisions hold its old name.
        event = self.model.from_document({**old.document, "name": name})
        report = self.check(event)
        if self.store.get_event(name, fresh=True) is None:
            if expected_revision is not None:
                raise PreconditionFailed(f"{self.noun.capitalize()} {name!r} does not exist now")
            stored = self.store.create_event(event, actor, action="restore")
        else:
            stored = self.store.replace_event(
                event, actor, action="restore", expected_revision=expected_revision
            )
        return self._kept(WriteResult(event, stored, report, dry_run=False))

    def audit_log(
        self,
        page: int,
        limit: int,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        actions: list[str] | None = None,
        event_name: str | None = None,
        key_id: str | None = None,
        newest_first: bool = True,
        kind: str | None = None,
    ) -> Page[Revision]:
        """The project's history: every kind's unless ``kind`` names one."""
        return self.store.list_all_revisions(
            (page - 1) * limit,
            limit,
            since=since,
            until=until,
            actions=actions,
            event_name=event_name,
            key_id=key_id,
            newest_first=newest_first,
            kind=kind,
        )


def ensure_may_read_rows(key: ApiKey, *, refuse_read_only: bool) -> None:
    """The one check before a key sees rows of the warehouse (preview, daily counts):
    Forbidden (403) for a read-only key when the operator refuses them rows
    (``QUALEVENTS_REFUSE_ROWS_TO_READ_ONLY_KEYS``, for sources holding personal data)."""
    if refuse_read_only and not key.can_write:
        message = (
            "This server shows warehouse rows (preview, daily counts) only to full-access "
            "keys; this key is read-only"
        )
        raise Forbidden(message, [ErrorItem(("STATSIG-API-KEY",), message)])


def merge_changes(event: Source, changes: dict[str, Any]) -> Source:
    """``event`` with the fields in ``changes`` (snake_case) replaced; ``None`` unsets. A
    ``name`` in ``changes`` is kept only where it is a string (a rename the caller allowed)."""
    name = changes.get("name")
    merged = {**event.model_dump(), **changes}
    merged["name"] = name if isinstance(name, str) else event.name
    if merged.get("description") is None:
        merged["description"] = ""
    return type(event).model_validate(merged)


def owner_of(actor: Actor) -> EventOwner:
    """The owner of an event created by a key that named none: the key itself."""
    return EventOwner(
        owner_id=actor.key_id, owner_type=OwnerType.SDK_KEY, owner_name=actor.key_name
    )


def _immutable_name(expected: str, got: object) -> ErrorItem:
    return ErrorItem(
        ("name",),
        f"Names are immutable: the body says {got!r} but the path names {expected!r}",
    )


def _check_expected(current: StoredQualifyingEvent, expected_revision: int | None) -> None:
    if expected_revision is not None and current.revision != expected_revision:
        raise revision_mismatch(current.event.name, current.revision, expected_revision)
