"""A definition as the console's form shows it: plain strings per field, read back into the
domain's fields with problems at the field they belong to. One list, ``FIELDS``, says
which fields the form has; fields it does not show are never changed by an edit.
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
    widget: str = "text"  # text | textarea | sql | checkbox | select
    help: str = ""
    choices: tuple[str, ...] = ()


FIELDS: tuple[Field, ...] = (
    Field("description", "Description", "textarea"),
    Field("tags", "Tags", help="Comma-separated"),
    Field("source_type", "Source type", "select", choices=("query", "table")),
    Field("sql", "SQL", "sql", help="The query; {statsig_start_date} etc. macros allowed"),
    Field("table_name", "Table name", help="Only for source type 'table'"),
    Field("date_partition_column", "Date partition column", help="Only for source type 'table'"),
    Field("timestamp_column", "Timestamp column"),
    Field("timestamp_as_day", "The timestamp is a day (no time of day)", "checkbox"),
    Field(
        "id_type_mapping",
        "Unit id types",
        "textarea",
        help="One per line: unitID = column, e.g. userID = user_id",
    ),
    Field(
        "custom_field_mapping",
        "Custom fields",
        "textarea",
        help="One per line: key = SQL formula, e.g. revenue = price * quantity",
    ),
)
FIELD_NAMES = {field.name for field in FIELDS} | {"name"}


def _pairs(event: QualifyingEvent, name: str) -> list[tuple[str, str]]:
    if name == "id_type_mapping":
        return [(m.statsig_unit_id, m.column) for m in event.id_type_mapping or []]
    return [(c.key, c.formula) for c in event.custom_field_mapping or []]


def to_form(event: QualifyingEvent | None) -> dict[str, str]:
    """Each form field's text for ``event`` (empty for a new one)."""
    if event is None:
        return {"name": "", "source_type": "query", "id_type_mapping": "userID = user_id"}
    values = {"name": event.name}
    for field in FIELDS:
        value = getattr(event, field.name)
        if field.name in ("id_type_mapping", "custom_field_mapping"):
            values[field.name] = "\n".join(f"{a} = {b}" for a, b in _pairs(event, field.name))
        elif field.name == "tags":
            values[field.name] = ", ".join(value or [])
        elif field.widget == "checkbox":
            values[field.name] = "on" if value else ""
        elif field.name == "source_type":
            values[field.name] = event.effective_source_type.value
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


def from_form(form: Mapping[str, Any]) -> tuple[dict[str, Any], list[ErrorItem]]:
    """The domain's fields (snake_case) the form's text says, and the problems reading it."""
    text = {field.name: str(form.get(field.name, "") or "") for field in FIELDS}
    values: dict[str, Any] = {}
    problems: list[ErrorItem] = []
    values["description"] = text["description"].replace("\r\n", "\n")
    tags = [tag.strip() for tag in text["tags"].split(",") if tag.strip()]
    values["tags"] = tags or None
    values["source_type"] = text["source_type"] or None
    if values["source_type"] not in (None, "query", "table"):
        problems.append(ErrorItem(("source_type",), "Expected 'query' or 'table'"))
    values["sql"] = text["sql"].replace("\r\n", "\n") or None
    for name in ("table_name", "date_partition_column", "timestamp_column"):
        values[name] = text[name].strip() or None
    values["timestamp_as_day"] = True if text["timestamp_as_day"] else None
    ids, found = _lines(text["id_type_mapping"], "id_type_mapping", "statsig_unit_id", "column")
    values["id_type_mapping"] = ids or None
    problems += found
    customs, found = _lines(text["custom_field_mapping"], "custom_field_mapping", "key", "formula")
    values["custom_field_mapping"] = customs or None
    problems += found
    return values, problems


def changed_fields(
    current: QualifyingEvent, form: Mapping[str, Any]
) -> tuple[dict[str, Any], list[ErrorItem]]:
    """The fields an edit form changes (a patch): only those whose text differs from how
    ``current`` shows, so what the form cannot show exactly is left as it is."""
    values, problems = from_form(form)
    shown = to_form(current)
    changes = {}
    for field in FIELDS:
        sent = str(form.get(field.name, "") or "").replace("\r\n", "\n")
        if field.widget == "checkbox":
            sent = "on" if sent else ""
        if sent.strip() != shown.get(field.name, "").strip():
            changes[field.name] = values[field.name]
    return changes, problems


def event_from_form(
    name: str, form: Mapping[str, Any]
) -> tuple[QualifyingEvent | None, list[ErrorItem]]:
    """A new definition from a create form (None when the text cannot be read)."""
    values, problems = from_form(form)
    if problems:
        return None, problems
    values["name"] = name
    return QualifyingEvent.model_validate(values), []
