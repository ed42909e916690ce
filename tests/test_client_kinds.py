"""The Python client speaks every kind with the same methods (``kind=``), in process
against the real app (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from qualevents.client import Client
from qualevents.errors import NotFound
from qualevents.wire import AssignmentSource, QualifyingEvent
from tests.api.test_source_kinds import KINDS, KindCase, other_than


@pytest.fixture
def api(app, full_key) -> Iterator[Client]:
    with Client("http://testserver", full_key, http=TestClient(app)) as client:
        yield client


@pytest.mark.parametrize("case", KINDS, ids=[k.kind for k in KINDS])
def test_the_same_verbs_for_every_kind(api, case: KindCase):
    kind, other, body = case.kind, other_than(case).kind, case.body
    created = api.create_qualifying_event(body(), kind=kind)
    assert created.status == 201
    assert api.validate_qualifying_event(body("Other"), kind=kind).dry_run
    read = api.get_qualifying_event("Purchases", kind=kind)
    assert read.data.name == "Purchases"
    model = AssignmentSource if kind == "assignment_source" else QualifyingEvent
    assert type(read.data) is model
    api.patch_qualifying_event("Purchases", {"description": "x"}, if_match=read.etag, kind=kind)
    api.update_qualifying_event("Purchases", body(description="y"), kind=kind)
    listed = api.list_qualifying_events(kind=kind)
    assert [event.name for event in listed.data] == ["Purchases"]
    assert api.list_qualifying_events(kind=other).data == []
    assert [r.revision for r in api.revisions("Purchases", kind=kind).data] == [1, 2, 3]
    assert api.revision("Purchases", 2, kind=kind).data.revision == 2
    assert api.restore("Purchases", 1, kind=kind).data.description == ""
    with pytest.raises(NotFound):
        api.get_qualifying_event("Purchases", kind=other)
    api.delete_qualifying_event("Purchases", kind=kind)
    with pytest.raises(NotFound):
        api.get_qualifying_event("Purchases", kind=kind)
    assert {item.kind for item in api.audit_logs().data} == {kind}


def test_an_unknown_kind_is_a_clear_error(api):
    with pytest.raises(ValueError, match="Unknown kind 'gate'"):
        api.get_qualifying_event("x", kind="gate")


def test_an_assignment_source_renames_and_scans_through_the_client(api):
    from qualevents.errors import WarehouseError

    case = next(k for k in KINDS if k.kind == "assignment_source")
    api.create_qualifying_event(case.body("Old"), kind=case.kind)
    renamed = api.patch_qualifying_event("Old", {"name": "New"}, kind=case.kind)
    assert renamed.data.name == "New" and renamed.data.experiment_id_column == "experiment"
    with pytest.raises(NotFound):
        api.get_qualifying_event("Old", kind=case.kind)
    with pytest.raises(WarehouseError):  # this app has no warehouse (a 502)
        api.experiments("New")
