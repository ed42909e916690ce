"""The wire schemas: the one translation between domain and wire names, and the document
encoder that does it while encoding: byte for byte what renaming then encoding gives, and
no field of the domain is ever left behind."""

from __future__ import annotations

import json

from pydantic_core import to_json

from qualevents.models import QualifyingEvent
from qualevents.wire import CreateBody, body_encoder, to_wire
from tests.factories import event


def test_every_domain_field_is_a_wire_field():
    assert set(QualifyingEvent.model_fields) <= set(CreateBody.model_fields)


def test_the_encoder_renames_as_to_wire_does():
    full = event(
        "Full",
        tags=["a"],
        custom_field_mapping=[{"key": "country", "formula": "upper(country)"}],
        owner={"owner_id": "k", "owner_type": "SDK_KEY", "owner_name": "n"},
        team_id="t",
        is_read_only=False,
    )
    documents = [full.to_document(), event("Plain").to_document()]
    page = {"message": "m", "data": documents, "pagination": {"itemsPerPage": 2}}
    expected = to_json({**page, "data": [to_wire(d) for d in documents]})
    assert body_encoder(CreateBody, many=True)(page) == expected
    one = {"message": "m", "data": documents[0]}
    encoded = body_encoder(CreateBody, many=False)(one)
    assert encoded == to_json({"message": "m", "data": to_wire(documents[0])})
    assert json.loads(encoded)["data"]["owner"]["ownerID"] == "k"
