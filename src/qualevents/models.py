"""Domain objects: the sources (QualifyingEvent, which metric sources share, and
AssignmentSource) and their parts, with the invariants that hold for every stored
definition; ``source_model(kind)`` names each kind's class. Imports only ``errors``.

Fields are snake_case; the wire's camelCase lives in ``wire.py``. ``None`` means "never
written": such a field is left out of responses, so a read returns exactly what was written
(Statsig's Terraform provider tells an absent list from an empty one). ``description`` is the
one optional field that always has a value (``""``).
"""

from __future__ import annotations

import enum
import unicodedata
from collections import Counter
from datetime import datetime
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, PrivateAttr

from qualevents.errors import ErrorItem, ValidationFailed

# Limits, documented in docs/limits.md. Generous enough for any real definition, small enough
# that a single request cannot make the store or the SQL parser do unbounded work.
MAX_NAME_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 10_000
MAX_SQL_LENGTH = 200_000
MAX_IDENTIFIER_LENGTH = 500
MAX_FORMULA_LENGTH = 10_000
MAX_TAGS = 100
MAX_TAG_LENGTH = 200
MAX_ID_TYPE_MAPPINGS = 50
MAX_CUSTOM_FIELDS = 500
MAX_DECLARED_COLUMNS = 2_000
RESERVED_NAMES = frozenset({"-"})


class SourceType(enum.StrEnum):
    TABLE = "table"
    QUERY = "query"


class OwnerType(enum.StrEnum):
    USER = "USER"
    SDK_KEY = "SDK_KEY"


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IdTypeMapping(_Part):
    statsig_unit_id: str
    column: str


class CustomFieldMapping(_Part):
    key: str
    formula: str


class Owner(_Part):
    owner_id: str | None = None
    owner_type: str | None = None
    owner_name: str | None = None
    owner_email: str | None = None


class _Source(_Part):
    """What every kind of source does alike: its stored form, and the check of its
    invariants (each kind lists its own ``problems``)."""

    def to_document(self) -> dict[str, Any]:
        """The stored form: only the fields that were written."""
        return self.model_dump(mode="json", exclude_none=True)

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Self:
        return cls.model_validate(document)

    def problems(self) -> list[ErrorItem]:
        raise NotImplementedError

    def check(self) -> Self:
        """Raise ValidationFailed listing every problem; return self when there is none."""
        found = self.problems()
        if found:
            raise ValidationFailed(errors=found)
        return self

    def named_columns(self) -> list[tuple[str, str]]:
        """Columns of the query's output this kind names beyond the timestamp and the unit
        ids, as (field, wire name) to check against the output schema: none by default."""
        return []


class QualifyingEvent(_Source):
    """A named SQL source whose rows are (unit ids, timestamp, custom fields)."""

    name: str
    description: str = ""
    tags: list[str] | None = None
    sql: str | None = None
    timestamp_column: str | None = None
    timestamp_as_day: bool | None = None
    id_type_mapping: list[IdTypeMapping] | None = None
    source_type: SourceType | None = None
    table_name: str | None = None
    date_partition_column: str | None = None
    custom_field_mapping: list[CustomFieldMapping] | None = None
    is_read_only: bool | None = None
    is_verified: bool | None = None
    owner: Owner | None = None
    team: str | None = None
    team_id: str | None = None
    disable_cure: bool | None = None
    skip_validation: bool | None = None
    all_columns: list[str] | None = None
    column_types: list[str] | None = None
    # The sync id of the folder whose ``qualevents apply`` manages the source (set by apply,
    # absent otherwise); ``apply --prune`` deletes only sources carrying its own.
    managed_by: str | None = None

    @property
    def effective_source_type(self) -> SourceType:
        """``query`` unless the definition says ``table`` (Statsig's default)."""
        return self.source_type or SourceType.QUERY

    @property
    def declared_schema(self) -> list[tuple[str, str]] | None:
        """The output schema declared with ``skip_validation`` (name, type), if any."""
        if not self.skip_validation or self.all_columns is None or self.column_types is None:
            return None
        return list(zip(self.all_columns, self.column_types, strict=False))

    def problems(self) -> list[ErrorItem]:
        """Every broken invariant, all at once (empty when the definition is well-formed)."""
        found: list[ErrorItem] = []
        found += _name_problems(self.name)
        found += _length_problems(self)
        if self.sql is None:
            found.append(ErrorItem(("sql",), "Required"))
        if not (self.timestamp_column or "").strip():
            found.append(ErrorItem(("timestamp_column",), "Required: the event's timestamp column"))
        if self.effective_source_type is SourceType.TABLE:
            if not (self.table_name or "").strip():
                found.append(ErrorItem(("table_name",), "Required when sourceType is 'table'"))
        else:
            if self.sql is not None and not self.sql.strip():
                found.append(ErrorItem(("sql",), "Must not be empty when sourceType is 'query'"))
            if self.date_partition_column is not None:
                found.append(
                    ErrorItem(
                        ("date_partition_column",),
                        "Only allowed when sourceType is 'table'",
                    )
                )
        found += _id_type_mapping_problems(self.id_type_mapping)
        found += _custom_field_problems(self.custom_field_mapping)
        found += _declared_schema_problems(self)
        return found


class AssignmentSource(_Source):
    """Exposures: which unit was exposed to which group of which experiment, and when.
    The query shape of a qualifying event (no table, partition or custom fields) plus the
    experiment and group columns; ``scheduled_reload_hour`` is stored and returned
    (qualevents scans on request, it schedules nothing)."""

    name: str
    description: str = ""
    tags: list[str] | None = None
    sql: str | None = None
    timestamp_column: str | None = None
    experiment_id_column: str | None = None
    group_id_column: str | None = None
    group_name_column: str | None = None
    id_type_mapping: list[IdTypeMapping] | None = None
    scheduled_reload_hour: int | None = None
    is_read_only: bool | None = None
    is_verified: bool | None = None
    owner: Owner | None = None
    team: str | None = None
    team_id: str | None = None
    # As a qualifying event's: the folder whose ``qualevents apply`` manages it.
    managed_by: str | None = None

    # What a qualifying event has and an assignment source never does, so the shared query
    # builders and checks (sql.queries, sql.checks, validation) read it as a query source.
    source_type: ClassVar[None] = None
    table_name: ClassVar[None] = None
    date_partition_column: ClassVar[None] = None
    custom_field_mapping: ClassVar[None] = None
    timestamp_as_day: ClassVar[None] = None
    skip_validation: ClassVar[None] = None
    all_columns: ClassVar[None] = None
    column_types: ClassVar[None] = None
    disable_cure: ClassVar[None] = None
    declared_schema: ClassVar[None] = None
    effective_source_type: ClassVar[SourceType] = SourceType.QUERY

    def named_columns(self) -> list[tuple[str, str]]:
        """The experiment, group and (when mapped) group-name columns, as (field, wire
        name), checked against the query's output like the timestamp column."""
        named = [
            ("experiment_id_column", "experimentIDColumn"),
            ("group_id_column", "groupIDColumn"),
            ("group_name_column", "groupNameColumn"),
        ]
        return [(field, wire) for field, wire in named if (getattr(self, field) or "").strip()]

    def problems(self) -> list[ErrorItem]:
        """Every broken invariant, all at once (empty when the definition is well-formed)."""
        found = _name_problems(self.name)
        found += _too_long(("name",), self.name, MAX_NAME_LENGTH)
        found += _too_long(("description",), self.description, MAX_DESCRIPTION_LENGTH)
        found += _too_long(("sql",), self.sql, MAX_SQL_LENGTH)
        for field in (
            "timestamp_column",
            "experiment_id_column",
            "group_id_column",
            "group_name_column",
            "team",
            "team_id",
            "managed_by",
        ):
            found += _too_long((field,), getattr(self, field), MAX_IDENTIFIER_LENGTH)
        found += _too_many(("tags",), self.tags, MAX_TAGS)
        for i, tag in enumerate(self.tags or []):
            found += _too_long(("tags", i), tag, MAX_TAG_LENGTH)
        found += _too_many(("id_type_mapping",), self.id_type_mapping, MAX_ID_TYPE_MAPPINGS)
        if self.sql is None:
            found.append(ErrorItem(("sql",), "Required"))
        elif not self.sql.strip():
            found.append(ErrorItem(("sql",), "Must not be empty: the query of the exposures"))
        for field, what in (
            ("timestamp_column", "the exposure's timestamp column"),
            ("experiment_id_column", "the column holding the experiment id"),
            ("group_id_column", "the column holding the group id"),
        ):
            if not (getattr(self, field) or "").strip():
                found.append(ErrorItem((field,), f"Required: {what}"))
        if self.group_name_column is not None and not self.group_name_column.strip():
            found.append(ErrorItem(("group_name_column",), "Must not be empty when given"))
        hour = self.scheduled_reload_hour
        if hour is not None and not 0 <= hour <= 23:
            found.append(
                ErrorItem(("scheduled_reload_hour",), f"Must be an hour from 0 to 23 (got {hour})")
            )
        found += _id_type_mapping_problems(self.id_type_mapping)
        return found

    def as_event(self) -> QualifyingEvent:
        """The same rows as a qualifying-event definition (for the analyses' queries)."""
        return QualifyingEvent(
            name=self.name,
            sql=self.sql,
            timestamp_column=self.timestamp_column,
            id_type_mapping=self.id_type_mapping,
        )


# Each kind of source and its domain class (metric sources have a qualifying event's shape).
SOURCE_MODELS: dict[str, type[QualifyingEvent] | type[AssignmentSource]] = {
    "qualifying_event": QualifyingEvent,
    "metric_source": QualifyingEvent,
    "assignment_source": AssignmentSource,
}
Source = QualifyingEvent | AssignmentSource


def source_model(kind: str) -> type[QualifyingEvent] | type[AssignmentSource]:
    """The domain class of ``kind``'s sources (a qualifying event's unless named)."""
    return SOURCE_MODELS.get(kind, QualifyingEvent)


def _name_problems(name: str) -> list[ErrorItem]:
    loc = ("name",)
    if not name.strip():
        return [ErrorItem(loc, "Must not be empty")]
    found = []
    if name != name.strip():
        found.append(ErrorItem(loc, "Must not start or end with whitespace"))
    if "/" in name:
        found.append(ErrorItem(loc, "Must not contain '/' (names are used in URL paths)"))
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        found.append(ErrorItem(loc, "Must contain only printable characters"))
    if name in RESERVED_NAMES:
        found.append(ErrorItem(loc, f"{name!r} is reserved"))
    return found


def _too_long(loc: tuple[str | int, ...], value: str | None, limit: int) -> list[ErrorItem]:
    if value is not None and len(value) > limit:
        return [ErrorItem(loc, f"Must be at most {limit} characters (got {len(value)})")]
    return []


def _too_many(loc: tuple[str | int, ...], items: list[Any] | None, limit: int) -> list[ErrorItem]:
    if items is not None and len(items) > limit:
        return [ErrorItem(loc, f"Must have at most {limit} items (got {len(items)})")]
    return []


def _length_problems(event: QualifyingEvent) -> list[ErrorItem]:
    found = _too_long(("name",), event.name, MAX_NAME_LENGTH)
    found += _too_long(("description",), event.description, MAX_DESCRIPTION_LENGTH)
    found += _too_long(("sql",), event.sql, MAX_SQL_LENGTH)
    for field in (
        "timestamp_column",
        "table_name",
        "date_partition_column",
        "team",
        "team_id",
        "managed_by",
    ):
        found += _too_long((field,), getattr(event, field), MAX_IDENTIFIER_LENGTH)
    found += _too_many(("tags",), event.tags, MAX_TAGS)
    for i, tag in enumerate(event.tags or []):
        found += _too_long(("tags", i), tag, MAX_TAG_LENGTH)
    found += _too_many(("id_type_mapping",), event.id_type_mapping, MAX_ID_TYPE_MAPPINGS)
    found += _too_many(("custom_field_mapping",), event.custom_field_mapping, MAX_CUSTOM_FIELDS)
    for i, custom in enumerate(event.custom_field_mapping or []):
        found += _too_long(("custom_field_mapping", i, "key"), custom.key, MAX_IDENTIFIER_LENGTH)
        found += _too_long(
            ("custom_field_mapping", i, "formula"), custom.formula, MAX_FORMULA_LENGTH
        )
    found += _too_many(("all_columns",), event.all_columns, MAX_DECLARED_COLUMNS)
    found += _too_many(("column_types",), event.column_types, MAX_DECLARED_COLUMNS)
    return found


def _id_type_mapping_problems(mappings: list[IdTypeMapping] | None) -> list[ErrorItem]:
    loc = ("id_type_mapping",)
    if not mappings:
        return [ErrorItem(loc, "At least one mapping from a unit id type to a column is required")]
    found = []
    for i, mapping in enumerate(mappings):
        if not mapping.statsig_unit_id.strip():
            found.append(ErrorItem((*loc, i, "statsig_unit_id"), "Must not be empty"))
        if not mapping.column.strip():
            found.append(ErrorItem((*loc, i, "column"), "Must not be empty"))
        found += _too_long(
            (*loc, i, "statsig_unit_id"), mapping.statsig_unit_id, MAX_IDENTIFIER_LENGTH
        )
        found += _too_long((*loc, i, "column"), mapping.column, MAX_IDENTIFIER_LENGTH)
    counts = Counter(m.statsig_unit_id for m in mappings)
    for i, mapping in enumerate(mappings):
        if counts[mapping.statsig_unit_id] > 1 and mapping.statsig_unit_id.strip():
            first = next(
                j for j, m in enumerate(mappings) if m.statsig_unit_id == mapping.statsig_unit_id
            )
            if i != first:
                found.append(
                    ErrorItem(
                        (*loc, i, "statsig_unit_id"),
                        f"Duplicate unit id type {mapping.statsig_unit_id!r} "
                        f"(already mapped at index {first})",
                    )
                )
    return found


def _custom_field_problems(fields: list[CustomFieldMapping] | None) -> list[ErrorItem]:
    loc = ("custom_field_mapping",)
    found = []
    seen: dict[str, int] = {}
    for i, custom in enumerate(fields or []):
        # Statsig's own list example carries a placeholder {"key": "", "formula": ""}; a read
        # must return it unchanged, so an entirely empty entry is accepted and ignored.
        if not custom.key and not custom.formula:
            continue
        if not custom.key.strip():
            found.append(ErrorItem((*loc, i, "key"), "Must not be empty when a formula is given"))
        elif custom.key in seen:
            found.append(
                ErrorItem(
                    (*loc, i, "key"),
                    f"Duplicate custom field key {custom.key!r} "
                    f"(already used at index {seen[custom.key]})",
                )
            )
        else:
            seen[custom.key] = i
        if not custom.formula.strip():
            found.append(ErrorItem((*loc, i, "formula"), "Must not be empty when a key is given"))
    return found


def _declared_schema_problems(event: QualifyingEvent) -> list[ErrorItem]:
    if not event.skip_validation:
        return []
    found = []
    if not event.all_columns:
        found.append(
            ErrorItem(("all_columns",), "Required (non-empty) when skip_validation is true")
        )
    if not event.column_types:
        found.append(
            ErrorItem(("column_types",), "Required (non-empty) when skip_validation is true")
        )
    if (
        event.all_columns
        and event.column_types
        and len(event.all_columns) != len(event.column_types)
    ):
        found.append(
            ErrorItem(
                ("column_types",),
                f"Must have one type per column in all_columns ({len(event.all_columns)} columns, "
                f"{len(event.column_types)} types)",
            )
        )
    return found


class KeyKind(enum.StrEnum):
    FULL_ACCESS = "full_access"
    READ_ONLY = "read_only"


class ApiKey(BaseModel):
    """A console key as stored: never the secret itself, only its hash."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    kind: KeyKind
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def can_write(self) -> bool:
        return self.kind is KeyKind.FULL_ACCESS

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class StoredQualifyingEvent(BaseModel):
    """A definition with its bookkeeping: when it was written and its revision number."""

    model_config = ConfigDict(frozen=True)

    event: QualifyingEvent | AssignmentSource
    created_at: datetime
    updated_at: datetime
    revision: int
    # What callers derive from this value (its encoded response), kept with it: a store
    # cache hands out the same object until a write replaces it.
    _memo: dict[Any, Any] = PrivateAttr(default_factory=dict)

    @property
    def memo(self) -> dict[Any, Any]:
        return self._memo


def document_changes(
    old: dict[str, Any] | None, new: dict[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """``{field: {"old": ..., "new": ...}}`` for every top-level field that differs."""
    old, new = old or {}, new or {}
    return {
        field: {"old": old.get(field), "new": new.get(field)}
        for field in sorted(old.keys() | new.keys())
        if old.get(field) != new.get(field)
    }


class ChangeRequestStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    # The event changed after the request was made; it can no longer be applied.
    STALE = "stale"


class ChangeRequest(BaseModel):
    """A mutation held for review (``x-respect-review-settings`` with reviews required)."""

    model_config = ConfigDict(frozen=True)

    id: int
    event_name: str
    action: str  # create | update | patch | delete
    payload: dict[str, Any] | None
    base_revision: int | None
    status: ChangeRequestStatus
    author_key_id: str | None
    author_key_name: str | None
    reviewer_key_id: str | None = None
    reviewer_key_name: str | None = None
    reason: str | None = None
    created_at: datetime
    decided_at: datetime | None = None
    kind: str = "qualifying_event"  # the kind of source the change is to
