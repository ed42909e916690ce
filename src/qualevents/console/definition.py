"""A definition as the console's form shows it: plain strings per field, read back into the
domain's fields with problems at the field they belong to. One list, ``FIELDS``, says
which fields a kind's form has; fields it does not show are never changed by an edit.
Imports ``errors``, ``models``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qualevents.errors import ErrorItem
from qualevents.models import QualifyingEvent


@dataclass(frozen=True)
class Field:
    name: str  # the domain's field
    label: str
    widget: str = "text"  # text | textarea | sql | checkbox | select | number
    help: str = ""
    choices: tuple[str, ...] = ()


DESCRIPTION = Field("description", "Description", "textarea")
TAGS = Field("tags", "Tags", help="Comma-separated")
SQL = Field("sql", "SQL", "sql", help="The query; macros such as {statsig_start_date} allowed")
TIMESTAMP = Field("timestamp_column", "Timestamp column")
UNIT_IDS = Field(
    "id_type_mapping",
    "Unit id types",
    "textarea",
    help="One per line: unitID = column, e.g. userID = user_id",
)

# The fields of a qualifying event's (and a metric source's) form.
FIELDS: tuple[Field, ...] = (
    DESCRIPTION,
    TAGS,
    Field("source_type", "Source type", "select", choices=("query", "table")),
    SQL,
    Field("table_name", "Table name", help="Only for source type 'table'"),
    Field("date_partition_column", "Date partition column", help="Only for source type 'table'"),
    TIMESTAMP,
    Field("timestamp_as_day", "The timestamp is a day (no time of day)", "checkbox"),
    UNIT_IDS,
    Field(
        "custom_field_mapping",
        "Custom fields",
        "textarea",
        help="One per line: key = SQL formula, e.g. revenue = price * quantity",
    ),
)
# An assignment source's.
ASSIGNMENT_FIELDS: tuple[Field, ...] = (
    DESCRIPTION,
    TAGS,
    SQL,
    TIMESTAMP,
    Field("experiment_id_column", "Experiment id column"),
    Field("group_id_column", "Group id column"),
    Field("group_name_column", "Group name column", help="Optional"),
    UNIT_IDS,
    Field(
        "scheduled_reload_hour",
        "Scheduled reload hour",
        "number",
        help="0 to 23, optional (stored for Statsig's clients; qualevents scans on request)",
    ),
)
PAIRS = {
    "id_type_mapping": ("statsig_unit_id", "column"),
    "custom_field_mapping": ("key", "formula"),
}


def _pairs(event: Any, name: str) -> list[tuple[str, str]]:
    left, right = PAIRS[name]
    return [(getattr(item, left), getattr(item, right)) for item in getattr(event, name) or []]


def to_form(event: Any, fields: tuple[Field, ...] = FIELDS) -> dict[str, str]:
    """Each form field's text for ``event`` (a new one's defaults for None)."""
    if event is None:
        return {"name": "", "source_type": "query", "id_type_mapping": "userID = user_id"}
    values = {"name": event.name}
    for field in fields:
        value = getattr(event, field.name, None)
        if field.name in PAIRS:
            values[field.name] = "\n".join(f"{a} = {b}" for a, b in _pairs(event, field.name))
        elif field.name == "tags":
            values[field.name] = ", ".join(value or [])
        elif field.widget == "checkbox":
            values[field.name] = "on" if value else ""
        elif field.name == "source_type":
            values[field.name] = str(value or "query")
        else:
            values[field.name] = "" if value is None else str(value)
    return values


def _lines(
    text: str, name: str, left: str, right: str
) -> tuple[list[dict[str, str]], list[ErrorItem]]:
    items, problems = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        a, sep, b = line.partition("=")
        if not sep or not a.strip() or not b.strip():
            problems.append(
                ErrorItem((name,), f"Line {number}: expected '{left} = {right}', got {line!r}")
            )
            continue
        items.append({left: a.strip(), right: b.strip()})
    return items, problems


def from_form(
    form: Mapping[str, Any], fields: tuple[Field, ...] = FIELDS
) -> tuple[dict[str, Any], list[ErrorItem]]:
    """The domain's fields (snake_case) the form's text says, and the problems reading it.
    An empty field is an unset one (None)."""
    values: dict[str, Any] = {}
    problems: list[ErrorItem] = []
    for field in fields:
        text = str(form.get(field.name, "") or "").replace("\r\n", "\n")
        name = field.name
        if name in PAIRS:
            items, found = _lines(text, name, *PAIRS[name])
            values[name] = items or None
            problems += found
        elif name == "tags":
            values[name] = [tag.strip() for tag in text.split(",") if tag.strip()] or None
        elif name == "description":
            values[name] = text
        elif field.widget == "checkbox":
            values[name] = True if text else None
        elif field.widget == "select":
            values[name] = text or None
            if text and text not in field.choices:
                problems.append(ErrorItem((name,), f"Expected one of: {', '.join(field.choices)}"))
        elif field.widget == "number":
            values[name] = int(text.strip()) if text.strip().lstrip("-").isdigit() else None
            if text.strip() and values[name] is None:
                problems.append(ErrorItem((name,), f"Expected a whole number, got {text!r}"))
        elif field.widget == "sql":
            values[name] = text or None
        else:
            values[name] = text.strip() or None
    return values, problems


def changed_fields(
    current: Any, form: Mapping[str, Any], fields: tuple[Field, ...] = FIELDS
) -> tuple[dict[str, Any], list[ErrorItem]]:
    """The fields an edit form changes (a patch): only those whose text differs from how
    ``current`` shows, so what the form cannot show exactly is left as it is."""
    values, problems = from_form(form, fields)
    shown = to_form(current, fields)
    changes = {}
    for field in fields:
        sent = str(form.get(field.name, "") or "").replace("\r\n", "\n")
        if field.widget == "checkbox":
            sent = "on" if sent else ""
        if sent.strip() != shown.get(field.name, "").strip():
            changes[field.name] = values[field.name]
    return changes, problems


def event_from_form(
    name: str, form: Mapping[str, Any], fields: tuple[Field, ...] = FIELDS, model: Any = None
) -> tuple[Any, list[ErrorItem]]:
    """A new definition (of ``model``, a qualifying event's by default) from a create form;
    None with the problems when the text cannot be read."""
    values, problems = from_form(form, fields)
    if problems:
        return None, problems
    values["name"] = name
    return (model or QualifyingEvent).model_validate(values), []
