"""The domain model: its invariants (``problems()``), the stored document, and the property
that any well-formed event round-trips unchanged through storage and through the wire."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from qualevents.api.convert import event_from_body, event_to_wire
from qualevents.errors import ValidationFailed
from qualevents.models import (
    CustomFieldMapping,
    IdTypeMapping,
    Owner,
    QualifyingEvent,
    SourceType,
    document_changes,
)
from qualevents.wire import CreateBody

BASE = "/console/v1/experiments/qualifying_events"


def make(**fields: Any) -> QualifyingEvent:
    values: dict[str, Any] = {
        "name": "Purchases",
        "sql": "SELECT 1",
        "timestamp_column": "ts",
        "id_type_mapping": [IdTypeMapping(statsig_unit_id="userID", column="user_id")],
    }
    values.update(fields)
    return QualifyingEvent(**values)


def locs(event: QualifyingEvent) -> list[tuple[str | int, ...]]:
    return [item.loc for item in event.problems()]


# -- invariants -----------------------------------------------------------------------------


def test_a_minimal_event_is_well_formed():
    assert make().problems() == []
    assert make().check() == make()


def test_check_raises_with_every_problem():
    with pytest.raises(ValidationFailed) as raised:
        make(name="", timestamp_column="", id_type_mapping=[]).check()
    assert {item.loc for item in raised.value.errors} == {
        ("name",),
        ("timestamp_column",),
        ("id_type_mapping",),
    }


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"sql": None}, [("sql",)]),
        ({"sql": ""}, [("sql",)]),
        ({"source_type": SourceType.TABLE, "sql": ""}, [("table_name",)]),
        ({"source_type": SourceType.TABLE, "sql": "", "table_name": "t"}, []),
        ({"date_partition_column": "ds"}, [("date_partition_column",)]),
        (
            {"source_type": SourceType.TABLE, "table_name": "t", "date_partition_column": "ds"},
            [],
        ),
        ({"name": "a/b"}, [("name",)]),
        ({"name": "-"}, [("name",)]),
        ({"name": "x" * 201}, [("name",)]),
        ({"name": "x" * 200}, []),
        ({"tags": ["t"] * 101}, [("tags",)]),
        (
            {
                "id_type_mapping": [
                    IdTypeMapping(statsig_unit_id="u", column="a"),
                    IdTypeMapping(statsig_unit_id="u", column="b"),
                ]
            },
            [("id_type_mapping", 1, "statsig_unit_id")],
        ),
        (
            {
                "custom_field_mapping": [
                    CustomFieldMapping(key="k", formula="a"),
                    CustomFieldMapping(key="k", formula="b"),
                ]
            },
            [("custom_field_mapping", 1, "key")],
        ),
        ({"custom_field_mapping": [CustomFieldMapping(key="", formula="")]}, []),
        ({"skip_validation": True}, [("all_columns",), ("column_types",)]),
        (
            {"skip_validation": True, "all_columns": ["a", "b"], "column_types": ["int"]},
            [("column_types",)],
        ),
    ],
)
def test_problems(fields, expected):
    assert sorted(set(locs(make(**fields)))) == expected


def test_effective_source_type_defaults_to_query():
    assert make().effective_source_type is SourceType.QUERY
    assert make(source_type=SourceType.TABLE).effective_source_type is SourceType.TABLE


def test_declared_schema_only_with_skip_validation():
    assert make(all_columns=["a"], column_types=["int"]).declared_schema is None
    declared = make(skip_validation=True, all_columns=["a", "b"], column_types=["int", "text"])
    assert declared.declared_schema == [("a", "int"), ("b", "text")]


def test_document_keeps_only_written_fields():
    document = make(tags=[], is_read_only=False).to_document()
    assert document == {
        "name": "Purchases",
        "description": "",
        "tags": [],
        "sql": "SELECT 1",
        "timestamp_column": "ts",
        "id_type_mapping": [{"statsig_unit_id": "userID", "column": "user_id"}],
        "is_read_only": False,
    }


def test_document_changes_lists_only_differences():
    old = {"a": 1, "b": [1], "c": "x"}
    new = {"a": 1, "b": [2], "d": False}
    assert document_changes(old, new) == {
        "b": {"old": [1], "new": [2]},
        "c": {"old": "x", "new": None},
        "d": {"old": None, "new": False},
    }
    assert document_changes(None, {"a": 1}) == {"a": {"old": None, "new": 1}}


def test_events_are_immutable_and_reject_unknown_fields():
    with pytest.raises(ValueError):
        QualifyingEvent.from_document({**make().to_document(), "surprise": 1})
    with pytest.raises(ValueError):
        make().name = "other"  # type: ignore[misc]


# -- the round-trip property ----------------------------------------------------------------

_printable = st.characters(categories=("L", "N", "P", "S", "Zs"), exclude_characters="/")
identifiers = st.text(_printable, min_size=1, max_size=12).filter(
    lambda s: s == s.strip() and s.strip() != "" and s != "-"
)
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
optional = lambda strategy: st.none() | strategy  # noqa: E731

events = st.builds(
    QualifyingEvent,
    name=identifiers,
    description=texts,
    tags=optional(st.lists(texts, max_size=3)),
    sql=texts,
    timestamp_column=identifiers,
    timestamp_as_day=optional(st.booleans()),
    id_type_mapping=st.lists(
        st.builds(IdTypeMapping, statsig_unit_id=identifiers, column=identifiers),
        min_size=1,
        max_size=3,
        unique_by=lambda m: m.statsig_unit_id,
    ),
    source_type=optional(st.sampled_from(SourceType)),
    table_name=optional(texts),
    date_partition_column=optional(identifiers),
    custom_field_mapping=optional(
        st.lists(
            st.builds(CustomFieldMapping, key=identifiers, formula=identifiers),
            max_size=3,
            unique_by=lambda c: c.key,
        )
    ),
    is_read_only=optional(st.booleans()),
    is_verified=optional(st.booleans()),
    owner=optional(
        st.builds(
            Owner,
            owner_id=optional(identifiers),
            owner_type=optional(st.sampled_from(["USER", "SDK_KEY"])),
            owner_name=optional(texts),
            owner_email=optional(texts),
        )
    ),
    team=optional(texts),
    team_id=optional(identifiers),
    disable_cure=optional(st.booleans()),
)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(events)
def test_well_formed_events_round_trip_through_the_document(event):
    assume(not event.problems())
    assert QualifyingEvent.from_document(event.to_document()) == event


@settings(max_examples=200, derandomize=True, deadline=None)
@given(events)
def test_well_formed_events_round_trip_through_the_wire_schema(event):
    assume(not event.problems())
    wire = json.dumps(event_to_wire(event))
    assert event_from_body(CreateBody.model_validate_json(wire), event.name) == event


@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(event=events)
def test_well_formed_events_round_trip_through_the_api(client, event):
    assume(not event.problems())
    sent = event_to_wire(event)
    created = client.post(BASE, json=sent)
    assert created.status_code == 201, created.text
    try:
        read = client.get(f"{BASE}/{quote(event.name, safe='')}").json()["data"]
        if event.owner is None:  # a create without owner gets the calling key as owner
            assert read.pop("owner")["ownerType"] == "SDK_KEY"
        assert read == sent
    finally:
        assert client.delete(f"{BASE}/{quote(event.name, safe='')}").status_code == 200
