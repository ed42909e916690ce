"""Wire schemas: Statsig's camelCase request bodies, and the one translation between wire
names and the domain's snake_case names. Imports ``models`` and ``errors``.

Request bodies are validated strictly (``extra="forbid"``: an unknown field is named in the
error). Responses are built from the domain's stored document by renaming keys
(``to_wire``), so what was written is exactly what is read.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from qualevents.errors import Loc
from qualevents.models import QualifyingEvent, SourceType


class WireModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=False, extra="forbid", strict=True
    )


class IdTypeMappingBody(WireModel):
    statsig_unit_id: str = Field(alias="statsigUnitID", description="A unit id type, e.g. userID")
    column: str = Field(description="The source column holding that id")


class CustomFieldMappingBody(WireModel):
    key: str
    formula: str = Field(description="A SQL expression over the source's columns")


class OwnerBody(WireModel):
    owner_id: str | None = Field(None, alias="ownerID")
    owner_type: str | None = None
    owner_name: str | None = None
    owner_email: str | None = None


class _EventFields(WireModel):
    """The event's fields on the wire, the one list of them; all optional here, required
    ones overridden by the bodies and by the read shape."""

    description: str | None = None
    tags: list[str] | None = None
    sql: str | None = None
    timestamp_column: str | None = None
    timestamp_as_day: bool | None = None
    id_type_mapping: list[IdTypeMappingBody] | None = None
    source_type: SourceType | None = Field(None, description="'table' or 'query' (default)")
    table_name: str | None = None
    date_partition_column: str | None = None
    custom_field_mapping: list[CustomFieldMappingBody] | None = None
    is_read_only: bool | None = None
    is_verified: bool | None = None
    owner: OwnerBody | None = None
    team: str | None = None
    team_id: str | None = Field(None, alias="teamID")
    disable_cure: bool | None = Field(None, alias="disableCURE")
    skip_validation: bool | None = Field(
        None, alias="skip_validation", description="Skip the warehouse check; declare columns"
    )
    all_columns: list[str] | None = Field(None, alias="all_columns")
    column_types: list[str] | None = Field(None, alias="column_types")


class _Body(_EventFields):
    """A write body: the event's fields plus ``dryRun``."""

    dry_run: bool | None = Field(None, description="Run every check, store nothing")

    def to_domain_changes(self) -> dict[str, Any]:
        """The fields the client sent, in domain names (``None`` where it sent null)."""
        return self.model_dump(exclude_unset=True, exclude={"dry_run"})

    def to_event(self, name: str) -> QualifyingEvent:
        changes = self.to_domain_changes()
        changes["name"] = name
        if changes.get("description") is None:
            changes["description"] = ""
        return QualifyingEvent.model_validate(changes)


class CreateBody(_Body):
    name: str
    sql: str
    timestamp_column: str
    id_type_mapping: list[IdTypeMappingBody]


class UpdateBody(_Body):
    name: str | None = Field(None, description="May repeat the name; it cannot change")
    sql: str
    timestamp_column: str
    id_type_mapping: list[IdTypeMappingBody]


class PatchBody(_Body):
    name: str | None = Field(None, description="May repeat the name; it cannot change")


def _alias_map(*models: type[BaseModel]) -> dict[str, str]:
    names: dict[str, str] = {}
    for model in models:
        for field_name, info in model.model_fields.items():
            names[field_name] = info.alias or field_name
    return names


# snake_case (domain) -> camelCase (wire), for every field of every body above.
WIRE_NAMES: dict[str, str] = _alias_map(
    CreateBody, IdTypeMappingBody, CustomFieldMappingBody, OwnerBody
)
DOMAIN_NAMES: dict[str, str] = {wire: domain for domain, wire in WIRE_NAMES.items()}


def wire_name(name: str) -> str:
    return WIRE_NAMES.get(name, name)


def to_wire(value: Any) -> Any:
    """Rename a stored document's keys (recursively) to their wire names."""
    # Scalars are copied without a call each: a list page renames thousands of keys.
    if isinstance(value, dict):
        return {
            WIRE_NAMES.get(key, key): to_wire(item) if isinstance(item, dict | list) else item
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [to_wire(item) if isinstance(item, dict | list) else item for item in value]
    return value


def event_to_wire(event: QualifyingEvent) -> dict[str, Any]:
    return to_wire(event.to_document())


def render_loc(loc: Loc) -> str:
    """A location as Statsig's ``property``: ``idTypeMapping[0].column``."""
    rendered = ""
    for part in loc:
        if isinstance(part, int):
            rendered += f"[{part}]"
        else:
            name = wire_name(part)
            rendered += f".{name}" if rendered else name
    return rendered


def changes_to_wire(changes: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        wire_name(field): {"old": to_wire(diff["old"]), "new": to_wire(diff["new"])}
        for field, diff in changes.items()
    }


def change_request_to_wire(request: Any) -> dict[str, Any]:
    """A ``qualevents.models.ChangeRequest`` on the wire."""
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


class SettingsBody(WireModel):
    """Project settings that may be changed (``/console/v1/-/settings``)."""

    require_reviews: bool | None = Field(
        None, description="Hold mutations sent with x-respect-review-settings for review"
    )


class RejectBody(WireModel):
    reason: str | None = Field(None, max_length=2000)


# -- response shapes, for the OpenAPI document only (responses are built by to_wire) -------


class QualifyingEventOut(_EventFields):
    """A qualifying event as read: the fields that were written (others are absent)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", strict=False
    )

    name: str
    description: str
    sql: str
    timestamp_column: str
    id_type_mapping: list[IdTypeMappingBody]


class _OutModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Pagination(_OutModel):
    items_per_page: int
    page_number: int
    total_items: int
    next_page: str | None
    previous_page: str | None
    all: str


class ErrorItemOut(_OutModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    property: str
    error_message: str


class ErrorResponse(BaseModel):
    status: int
    message: str
    errors: list[ErrorItemOut]


class EventResponse(_OutModel):
    message: str
    data: QualifyingEventOut
    validation: dict[str, Any] | None = Field(
        None, description="The warehouse validation report (qualevents addition)"
    )
    dry_run: bool | None = Field(None, description="Present and true for a dry run")


class EventListResponse(BaseModel):
    message: str
    data: list[QualifyingEventOut]
    pagination: Pagination


class MessageResponse(BaseModel):
    message: str
