"""Wire schemas: Statsig's camelCase bodies and responses, the one list of each, used by the
server (request validation, the OpenAPI document) and by ``client`` (typed models). Imports
only pydantic: the client may import this module, and it never imports server code.

Request bodies are strict (``extra="forbid"``: an unknown field is named in the error).
Responses are built by renaming a stored document's keys (``to_wire``), so what was written
is exactly what is read; their models are lenient so a client keeps working when a server
adds a field. The one translation between snake_case and camelCase is ``WIRE_NAMES``.
"""

from __future__ import annotations

import functools
import operator
import types
from collections.abc import Callable
from typing import Annotated, Any, Literal, NotRequired, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel
from typing_extensions import TypedDict

API_VERSION = "20240601"
API_VERSIONS = (API_VERSION,)
API_KEY_HEADER = "STATSIG-API-KEY"
SourceType = Literal["table", "query"]


# The kinds of source (the store's ``kind`` column), as the audit log names them.
SourceKind = Literal["qualifying_event", "metric_source", "assignment_source"]


class WireModel(BaseModel):
    """A request body: camelCase, strict, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=False, extra="forbid", strict=True
    )


class OutModel(BaseModel):
    """A response: camelCase, lenient, unknown fields kept."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


# -- the qualifying event ------------------------------------------------------------------


class IdTypeMapping(WireModel):
    statsig_unit_id: str = Field(alias="statsigUnitID", description="A unit id type, e.g. userID")
    column: str = Field(description="The source column holding that id")


class CustomFieldMapping(WireModel):
    key: str
    formula: str = Field(description="A SQL expression over the source's columns")


class Owner(WireModel):
    owner_id: str | None = Field(None, alias="ownerID")
    owner_type: str | None = None
    owner_name: str | None = None
    owner_email: str | None = None


class EventFields(WireModel):
    """The event's fields on the wire, the one list of them; all optional here, required
    ones overridden by the bodies and by the read shape."""

    description: str | None = None
    tags: list[str] | None = None
    sql: str | None = None
    timestamp_column: str | None = None
    timestamp_as_day: bool | None = None
    id_type_mapping: list[IdTypeMapping] | None = None
    source_type: SourceType | None = Field(None, description="'table' or 'query' (default)")
    table_name: str | None = None
    date_partition_column: str | None = None
    custom_field_mapping: list[CustomFieldMapping] | None = None
    is_read_only: bool | None = None
    is_verified: bool | None = None
    owner: Owner | None = None
    team: str | None = None
    team_id: str | None = Field(None, alias="teamID")
    disable_cure: bool | None = Field(None, alias="disableCURE")
    skip_validation: bool | None = Field(
        None, alias="skip_validation", description="Skip the warehouse check; declare columns"
    )
    all_columns: list[str] | None = Field(None, alias="all_columns")
    column_types: list[str] | None = Field(None, alias="column_types")
    managed_by: str | None = Field(
        None,
        description="qualevents: the folder (sync id) whose `qualevents apply` manages the "
        "source; set by apply, absent unless set, kept by updates that leave it out",
    )


class WriteBody(EventFields):
    """A write body: the event's fields plus ``dryRun``."""

    dry_run: bool | None = Field(None, description="Run every check, store nothing")

    def to_domain_changes(self) -> dict[str, Any]:
        """The fields the client sent, in domain (snake_case) names; ``None`` where it sent
        null."""
        return self.model_dump(exclude_unset=True, exclude={"dry_run"})


EXAMPLE_EVENT: dict[str, Any] = {
    "name": "Purchases",
    "description": "Users who purchased",
    "tags": ["checkout"],
    "sql": "SELECT ts, user_id, event_name FROM `shoppy-sales.logging.events` "
    "WHERE event_name = 'purchase'",
    "timestampColumn": "ts",
    "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
}


class CreateBody(WriteBody):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_EVENT]})

    name: str
    sql: str
    timestamp_column: str
    id_type_mapping: list[IdTypeMapping]


class UpdateBody(WriteBody):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_EVENT]})

    name: str | None = Field(None, description="May repeat the name; it cannot change")
    sql: str
    timestamp_column: str
    id_type_mapping: list[IdTypeMapping]


class PatchBody(WriteBody):
    model_config = ConfigDict(json_schema_extra={"examples": [{"description": "Buyers"}]})

    name: str | None = Field(None, description="May repeat the name; it cannot change")


# -- the assignment source (Statsig's AssignmentSource*Dto) ---------------------------------


class AssignmentSourceFields(WireModel):
    """An assignment source's fields on the wire (all optional here, as ``EventFields``):
    a query source with experiment and group columns; no table, partition or custom
    fields."""

    description: str | None = None
    tags: list[str] | None = None
    sql: str | None = None
    timestamp_column: str | None = None
    experiment_id_column: str | None = Field(
        None, alias="experimentIDColumn", description="The column holding the experiment id"
    )
    group_id_column: str | None = Field(
        None, alias="groupIDColumn", description="The column holding the group id"
    )
    group_name_column: str | None = Field(
        None, description="Optional: the column holding the group's name"
    )
    id_type_mapping: list[IdTypeMapping] | None = None
    scheduled_reload_hour: int | None = Field(
        None, description="Stored and returned (0-23); qualevents scans on request"
    )
    is_read_only: bool | None = None
    is_verified: bool | None = None
    owner: Owner | None = None
    team: str | None = None
    team_id: str | None = Field(None, alias="teamID")
    managed_by: str | None = Field(
        None,
        description="qualevents: the folder (sync id) whose `qualevents apply` manages the "
        "source; set by apply, absent unless set, kept by updates that leave it out",
    )


class AssignmentSourceWriteBody(AssignmentSourceFields):
    dry_run: bool | None = Field(None, description="Run every check, store nothing")

    to_domain_changes = WriteBody.to_domain_changes


EXAMPLE_ASSIGNMENT_SOURCE: dict[str, Any] = {
    "name": "exposures",
    "description": "",
    "tags": [],
    "sql": "SELECT * FROM shoppy-sales.experiment_data.exposures",
    "timestampColumn": "ts",
    "groupIDColumn": "group_id",
    "experimentIDColumn": "experiment_name",
    "idTypeMapping": [{"statsigUnitID": "stableID", "column": "user_id"}],
}


class AssignmentSourceCreateBody(AssignmentSourceWriteBody):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_ASSIGNMENT_SOURCE]})

    name: str
    sql: str
    timestamp_column: str
    experiment_id_column: str = Field(alias="experimentIDColumn")
    group_id_column: str = Field(alias="groupIDColumn")
    id_type_mapping: list[IdTypeMapping]


class AssignmentSourceUpdateBody(AssignmentSourceWriteBody):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_ASSIGNMENT_SOURCE]})

    name: str | None = Field(None, description="Optional new name (renames the source)")
    sql: str
    timestamp_column: str
    experiment_id_column: str = Field(alias="experimentIDColumn")
    group_id_column: str = Field(alias="groupIDColumn")
    id_type_mapping: list[IdTypeMapping]


class AssignmentSourcePatchBody(AssignmentSourceWriteBody):
    model_config = ConfigDict(json_schema_extra={"examples": [{"description": "Exposures"}]})

    name: str | None = Field(None, description="Optional new name (renames the source)")


class SettingsBody(WireModel):
    """Project settings that may be changed (``/console/v1/-/settings``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"requireReviews": False}]})

    require_reviews: bool | None = Field(
        None, description="Hold mutations sent with x-respect-review-settings for review"
    )


class RejectBody(WireModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "Not yet"}]})

    reason: str | None = Field(None, max_length=2000)


# -- responses -----------------------------------------------------------------------------


class QualifyingEvent(EventFields):
    """A qualifying event as read: the fields that were written (others are absent)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow", strict=False
    )

    name: str
    description: str = ""
    sql: str
    timestamp_column: str
    id_type_mapping: list[IdTypeMapping]


class AssignmentSource(AssignmentSourceFields):
    """An assignment source as read: the fields that were written (others are absent)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow", strict=False
    )

    name: str
    description: str = ""
    sql: str
    timestamp_column: str
    experiment_id_column: str = Field(alias="experimentIDColumn")
    group_id_column: str = Field(alias="groupIDColumn")
    id_type_mapping: list[IdTypeMapping]


class Pagination(OutModel):
    items_per_page: int
    page_number: int
    total_items: int
    next_page: str | None = Field(description="A relative URL to follow as is, or null")
    previous_page: str | None
    all: str


class ErrorItem(OutModel):
    property: str = Field(description="The field path (idTypeMapping[0].column), or ''")
    error_message: str


class ErrorResponse(OutModel):
    status: int
    message: str
    errors: list[ErrorItem]


class Message(OutModel):
    message: str


class ValidationReport(OutModel):
    valid: bool
    mode: str | None = None
    columns: list[dict[str, Any]] | None = None
    errors: list[ErrorItem] = []
    warnings: list[ErrorItem] = []
    compiled_sql: str | None = Field(None, description="The SQL as sent to the warehouse")


class EventResponse(OutModel):
    message: str
    data: QualifyingEvent
    validation: ValidationReport | None = Field(
        None, description="The warehouse validation report (qualevents addition)"
    )
    dry_run: bool | None = Field(None, description="Present and true for a dry run")


class AssignmentSourceResponse(OutModel):
    message: str
    data: AssignmentSource
    validation: ValidationReport | None = Field(
        None, description="The warehouse validation report (qualevents addition)"
    )
    dry_run: bool | None = Field(None, description="Present and true for a dry run")


class AssignmentSourceListResponse(OutModel):
    message: str
    data: list[AssignmentSource]
    pagination: Pagination


class ExperimentGroup(OutModel):
    group_id: str = Field(alias="groupID")
    group_name: str | None = Field(None, description="Present when groupNameColumn is mapped")
    units: int


class ExperimentScan(OutModel):
    """One experiment id an assignment source holds (the scan)."""

    experiment_id: str = Field(alias="experimentID")
    groups: list[ExperimentGroup]
    units: int = Field(description="Distinct units (of the counted unit type)")
    crossover_units: int = Field(description="Units seen in more than one group")
    first_exposure: str | None
    last_exposure: str | None
    unit_types: dict[str, int] = Field(description="Distinct units per mapped statsigUnitID")


class ExperimentScanResponse(OutModel):
    message: str
    data: list[ExperimentScan]
    truncated: bool | None = Field(
        None, description="Present and true when the warehouse's row cap cut the result"
    )


class EventListResponse(OutModel):
    message: str
    data: list[QualifyingEvent]
    pagination: Pagination


class ChangeRequest(OutModel):
    id: int
    name: str
    action: str
    status: Literal["pending", "approved", "rejected", "stale"]
    base_revision: int | None
    data: dict[str, Any] | None
    created_by: str | None
    created_by_key_id: str | None = Field(alias="createdByKeyID")
    reviewed_by: str | None
    reviewed_by_key_id: str | None = Field(alias="reviewedByKeyID")
    reason: str | None
    created_at: str
    decided_at: str | None


class ChangeRequestResponse(OutModel):
    message: str
    data: ChangeRequest


class ChangeRequestListResponse(OutModel):
    message: str
    data: list[ChangeRequest]
    pagination: Pagination


class FieldChange(OutModel):
    old: Any = None
    new: Any = None


class Revision(OutModel):
    revision: int
    action: str
    data: dict[str, Any] | None = Field(description="The definition after it; null: deleted")
    changes: dict[str, FieldChange]
    updated_by: str | None
    updated_by_key_id: str | None = Field(alias="updatedByKeyID")
    created_at: str


class RevisionResponse(OutModel):
    message: str
    data: Revision


class RevisionListResponse(OutModel):
    message: str
    data: list[Revision]
    pagination: Pagination


class AuditLogItem(OutModel):
    id: str
    name: str
    change_log: str
    action_type: str
    date: str
    time: str
    updated_by: str | None
    updated_by_user_id: str | None = Field(alias="updatedByUserID")
    modifier_email: str | None
    changes: dict[str, FieldChange]
    tags: list[str]
    revision: int
    kind: SourceKind  # qualevents: which kind of source the entry is about


class AuditLogResponse(OutModel):
    message: str
    data: list[AuditLogItem]
    pagination: Pagination


class ProjectSettings(OutModel):
    require_reviews: bool


class SettingsResponse(OutModel):
    message: str
    data: ProjectSettings


class RowsResponse(OutModel):
    message: str
    data: list[dict[str, Any]] = Field(description="One object per row")


class Health(OutModel):
    status: str
    version: str
    warehouse: str | None


# -- analyses as jobs (issue 12) -----------------------------------------------------------

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class JobSource(OutModel):
    kind: SourceKind
    name: str
    revision: int | None = Field(description="The source's revision the analysis read")


class Job(OutModel):
    id: str = Field(description="Opaque; GET /console/v1/-/jobs/{id} reads the job")
    analysis: str = Field(description="filter_exposures, power, ...")
    status: JobStatus
    kind: SourceKind = Field(description="The kind of the source analysed")
    name: str = Field(description="The qualifying event analysed")
    request: dict[str, Any] = Field(description="The request, with its defaults")
    sources: list[JobSource]
    compiled_sql: str | None = Field(None, description="The analysis as one runnable query")
    result: dict[str, Any] | None = Field(None, description="The result, once succeeded")
    error: ErrorResponse | None = Field(None, description="Why it failed or was cancelled")
    created_by: str | None = None
    created_by_key_id: str | None = Field(None, alias="createdByKeyID")
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    timings: dict[str, float] | None = Field(None, description="queuedMs, runMs")
    location: str = Field(description="This job's URL (relative)")


class JobResponse(OutModel):
    message: str
    data: Job


class JobAccepted(OutModel):
    message: str
    job: Job


class JobListResponse(OutModel):
    message: str
    data: list[Job]
    pagination: Pagination


class ChiSquareTest(OutModel):
    chi_square: float | None
    degrees_of_freedom: int
    p_value: float | None
    verdict: Literal["ok", "warning", "alert"]


class ExposureGroup(OutModel):
    group_id: str = Field(alias="groupID")
    group_name: str | None = None
    exposed_units: int
    qualified_units: int
    kept_units: int
    qualification_rate: float | None


class ExposureTotals(OutModel):
    exposure_rows: int
    null_unit_id_rows: int = Field(alias="nullUnitIDRows")
    crossover_units: int
    exposed_units: int
    qualified_units: int
    kept_units: int


class SampleRatio(OutModel):
    before: ChiSquareTest
    after: ChiSquareTest


class FilteredExposures(OutModel):
    groups: list[ExposureGroup]
    totals: ExposureTotals
    srm: SampleRatio
    qualification_balance: ChiSquareTest = Field(
        description="Chi-square test of independence of group and qualifying: the bias guard"
    )
    compiled_sql: str = Field(description="The filtered exposures as one runnable query")
    warnings: list[str]


class FilterExposuresResponse(OutModel):
    message: str
    data: FilteredExposures
    job: Job


class PowerDuration(OutModel):
    """One duration of a power analysis: the k-week window ending on ``end``."""

    weeks: int
    start: str = Field(description="The window's first day (UTC)")
    end: str = Field(description="The window's last day (UTC)")
    units: int = Field(description="Distinct units with a qualifying row in the window")
    units_control: float = Field(description="units * allocation * controlShare (not rounded)")
    units_treatment: float = Field(
        description="units * allocation * (1 - controlShare) / (groups - 1), per treatment group"
    )
    mean: float | None
    variance: float | None = Field(description="Per unit (n - 1; the delta method for ratios)")
    mde_absolute: float | None
    mde_relative: float | None = Field(description="mdeAbsolute / |mean|; null when the mean is 0")
    units_without_denominator: int | None = Field(
        None, description="mean and ratio metrics: units left out for a zero denominator"
    )
    rho: float | None = Field(
        None, description="CUPED: the metric's correlation with its pre-period"
    )
    variance_cuped: float | None = None
    mde_absolute_cuped: float | None = None
    mde_relative_cuped: float | None = None


class PowerResult(OutModel):
    durations: list[PowerDuration]
    inputs: dict[str, Any] = Field(description="Every parameter as resolved (defaults filled in)")
    compiled_sql: str = Field(description="The query that computed the per-duration aggregates")
    warnings: list[str]


class PowerResponse(OutModel):
    message: str
    data: PowerResult
    job: Job


# Each kind's create body (what a file handed to the CLI is read as).
CREATE_BODIES: dict[str, type[BaseModel]] = {
    "qualifying_event": CreateBody,
    "metric_source": CreateBody,
    "assignment_source": AssignmentSourceCreateBody,
}


# -- the one translation between domain and wire names -------------------------------------


def _alias_map(*models: type[BaseModel]) -> dict[str, str]:
    names: dict[str, str] = {}
    for model in models:
        for field_name, info in model.model_fields.items():
            names[field_name] = info.alias or field_name
    return names


# snake_case (domain) -> camelCase (wire), for every field of the event and its parts.
WIRE_NAMES: dict[str, str] = _alias_map(
    CreateBody, AssignmentSourceCreateBody, IdTypeMapping, CustomFieldMapping, Owner
)
DOMAIN_NAMES: dict[str, str] = {wire: domain for domain, wire in WIRE_NAMES.items()}
# The event's top-level wire fields (for "expected one of" in error messages).
EVENT_FIELDS: tuple[str, ...] = tuple(
    sorted(info.alias or name for name, info in CreateBody.model_fields.items())
)


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


def _document_field(annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return functools.reduce(operator.or_, [_document_field(a) for a in get_args(annotation)])
    if origin is list:
        return list[_document_field(get_args(annotation)[0])]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return document_type(annotation)
    return type(None) if annotation is type(None) else Any


@functools.cache
def document_type(model: type[BaseModel]) -> Any:
    """A stored document's shape: ``model``'s fields under their domain (snake_case) names,
    each serialized under its wire alias. pydantic-core renames the keys while it encodes,
    so a page of documents goes to JSON without a Python pass over every key."""
    fields = {
        name: Annotated[
            NotRequired[_document_field(info.annotation)],
            Field(serialization_alias=info.alias or name),
        ]
        for name, info in model.model_fields.items()
    }
    return TypedDict(f"{model.__name__}Document", fields)  # type: ignore[operator]


@functools.cache
def body_encoder(model: type[BaseModel], *, many: bool) -> Callable[[dict[str, Any]], bytes]:
    """JSON for ``{"message", "data": <document or list of them>, ...}``: the documents
    (shaped as ``model``'s fields) renamed to their wire names, other keys as they are."""
    document = document_type(model)
    fields = {
        "message": str,
        "data": list[document] if many else document,  # type: ignore[valid-type]
        "pagination": NotRequired[Any],
    }
    body = TypedDict(f"{model.__name__}{'Page' if many else 'Body'}", fields)  # type: ignore[operator]
    return functools.partial(TypeAdapter(body).dump_json, by_alias=True)


# -- config as code (qualevents extensions under /console/v1/-/) ---------------------------

MAX_PLAN_SOURCES = 10_000


class PlanSource(WireModel):
    kind: SourceKind
    data: dict[str, Any] = Field(description="The source as its file states it (wire fields)")
    file: str | None = Field(None, max_length=1000, description="Where it came from, echoed")


class PlanBody(WireModel):
    """What a folder states: every source in it, and its sync id."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "syncId": "analytics",
                    "prune": False,
                    "sources": [{"kind": "qualifying_event", "data": EXAMPLE_EVENT}],
                }
            ]
        }
    )

    sync_id: str = Field(min_length=1, max_length=200, description="The folder's syncId")
    sources: list[PlanSource] = Field(max_length=MAX_PLAN_SOURCES)
    prune: bool = Field(
        False, description="Plan deleting this folder's sources it no longer states"
    )


class PlannedChange(OutModel):
    kind: SourceKind
    name: str
    action: Literal["create", "update", "delete"]
    base_revision: int | None = Field(description="The revision planned against (If-Match)")
    file: str | None = None
    data: dict[str, Any] | None = Field(description="The source as the file states it")
    changes: dict[str, FieldChange]
    valid: bool
    validation: ValidationReport | None = None
    errors: list[ErrorItem] = []


class SourceRef(OutModel):
    kind: SourceKind
    name: str


class PlanData(OutModel):
    sync_id: str
    prune: bool
    valid: bool
    changes: list[PlannedChange]
    unchanged: int
    left_alone: list[SourceRef] = Field(description="Stored, not in the folder, not owned by it")


class PlanResponse(OutModel):
    message: str
    data: PlanData


class ApplyChange(WireModel):
    kind: SourceKind
    name: str = Field(max_length=200)
    action: Literal["create", "update", "delete"]
    base_revision: int | None = Field(None, description="The revision the plan was made on")
    data: dict[str, Any] | None = None


class ApplyBody(WireModel):
    """A saved plan's changes, applied all at once or not at all."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "syncId": "analytics",
                    "changes": [
                        {
                            "kind": "qualifying_event",
                            "name": "Purchases",
                            "action": "create",
                            "baseRevision": None,
                            "data": EXAMPLE_EVENT,
                        }
                    ],
                }
            ]
        }
    )

    sync_id: str = Field(min_length=1, max_length=200)
    changes: list[ApplyChange] = Field(max_length=MAX_PLAN_SOURCES)
    read_only: bool = Field(True, description="Mark written sources isReadOnly (unless stated)")


class AppliedChange(OutModel):
    kind: SourceKind
    name: str
    action: str
    revision: int | None


class ApplyData(OutModel):
    applied: list[AppliedChange]
    change_requests: list[ChangeRequest] = Field(
        description="When the project requires reviews: one per change, nothing applied"
    )


class ApplyResponse(OutModel):
    message: str
    data: ApplyData
