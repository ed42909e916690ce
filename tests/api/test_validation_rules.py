"""Every validation rule of a write, through the API: which field is named, that all problems
come back at once, and that a rejected write changes nothing stored."""

from __future__ import annotations

from typing import Any

import pytest

BASE = "/console/v1/experiments/qualifying_events"


def event(name: str = "Purchases", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "sql": "SELECT user_id, ts FROM events",
        "timestampColumn": "ts",
        "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
    }
    body.update(fields)
    return {key: value for key, value in body.items() if value is not ...}


def properties(response) -> list[str]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == 400
    for item in body["errors"]:
        assert isinstance(item["errorMessage"], str) and item["errorMessage"]
    return [item["property"] for item in body["errors"]]


@pytest.fixture
def snapshot(client, store):
    """What is stored (definitions and history), to show a rejected write changed nothing."""

    def take() -> tuple[Any, int]:
        return client.get(BASE).json()["data"], store.list_all_revisions(0, 1000).total

    return take


# -- required fields ------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["name", "sql", "timestampColumn", "idTypeMapping"])
def test_create_requires_field(client, missing):
    assert properties(client.post(BASE, json=event(**{missing: ...}))) == [missing]


def test_create_reports_every_missing_field_at_once(client):
    found = properties(client.post(BASE, json={}))
    assert sorted(found) == ["idTypeMapping", "name", "sql", "timestampColumn"]


@pytest.mark.parametrize("missing", ["sql", "timestampColumn", "idTypeMapping"])
def test_update_requires_field(client, missing):
    client.post(BASE, json=event())
    body = event(**{missing: ...})
    assert properties(client.post(f"{BASE}/Purchases", json=body)) == [missing]
    assert client.get(f"{BASE}/Purchases").json()["data"] == client.get(BASE).json()["data"][0]


def test_update_does_not_require_name(client):
    client.post(BASE, json=event())
    assert client.post(f"{BASE}/Purchases", json=event(name=...)).status_code == 200


@pytest.mark.parametrize(
    ("field", "value"),
    [("timestampColumn", ""), ("timestampColumn", "   "), ("name", ""), ("name", "  ")],
)
def test_blank_required_strings_are_rejected(client, field, value):
    assert properties(client.post(BASE, json=event(**{field: value}))) == [field]


# -- types ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", 3),
        ("sql", None),
        ("sql", 1),
        ("timestampColumn", ["ts"]),
        ("description", 5),
        ("tags", "a,b"),
        ("tags", [1]),
        ("timestampAsDay", "false"),
        ("isReadOnly", "false"),
        ("isReadOnly", 0),
        ("isVerified", "yes"),
        ("idTypeMapping", {"statsigUnitID": "userID", "column": "user_id"}),
        ("customFieldMapping", "x"),
        ("owner", "me"),
        ("dryRun", "true"),
    ],
)
def test_wrong_types_are_rejected_naming_the_field(client, field, value):
    found = properties(client.post(BASE, json=event(**{field: value})))
    assert found and all(p == field or p.startswith((f"{field}.", f"{field}[")) for p in found)


def test_nested_items_are_checked_with_their_path(client):
    body = event(
        idTypeMapping=[{"statsigUnitID": "userID"}],
        customFieldMapping=[{"key": "k", "formula": 1}],
    )
    found = properties(client.post(BASE, json=body))
    assert sorted(found) == ["customFieldMapping[0].formula", "idTypeMapping[0].column"]


@pytest.mark.parametrize("value", ["Table", "view", "", "QUERY"])
def test_source_type_must_be_table_or_query(client, value):
    response = client.post(BASE, json=event(sourceType=value))
    assert properties(response) == ["sourceType"]
    assert "table" in response.json()["errors"][0]["errorMessage"]


# -- unknown fields -------------------------------------------------------------------------


def test_unknown_top_level_field_is_rejected_by_name(client):
    response = client.post(BASE, json=event(timestampColum="ts"))
    assert properties(response) == ["timestampColum"]
    assert "timestampColum" in response.json()["errors"][0]["errorMessage"]


def test_unknown_nested_field_is_rejected_by_path(client):
    body = event(idTypeMapping=[{"statsigUnitID": "userID", "column": "u", "extra": 1}])
    assert properties(client.post(BASE, json=body)) == ["idTypeMapping[0].extra"]


def test_unknown_field_on_update_is_rejected(client):
    client.post(BASE, json=event())
    assert properties(client.post(f"{BASE}/Purchases", json=event(bogus=True))) == ["bogus"]


def test_newer_statsig_fields_are_accepted(client):
    body = event(
        disableCURE=True,
        skip_validation=True,
        all_columns=["user_id", "ts"],
        column_types=["string", "timestamp"],
    )
    response = client.post(BASE, json=body)
    assert response.status_code == 201, response.text
    assert client.get(f"{BASE}/Purchases").json()["data"] == {
        **body,
        "description": "",
        "owner": response.json()["data"]["owner"],
    }


# -- source types ---------------------------------------------------------------------------


def test_table_source_needs_table_name(client):
    assert properties(client.post(BASE, json=event(sourceType="table", sql=""))) == ["tableName"]


def test_table_source_accepts_empty_sql_and_a_date_partition_column(client):
    body = event(sourceType="table", sql="", tableName="`p.d.t`", datePartitionColumn="ds")
    assert client.post(BASE, json=body).status_code == 201


@pytest.mark.parametrize("source_type", ["query", ...])
@pytest.mark.parametrize("sql", ["", "  \n "])
def test_query_source_needs_non_empty_sql(client, source_type, sql):
    assert properties(client.post(BASE, json=event(sourceType=source_type, sql=sql))) == ["sql"]


@pytest.mark.parametrize("source_type", ["query", ...])
def test_date_partition_column_only_with_table_sources(client, source_type):
    body = event(sourceType=source_type, datePartitionColumn="ds")
    assert properties(client.post(BASE, json=body)) == ["datePartitionColumn"]


# -- mappings -------------------------------------------------------------------------------


def test_at_least_one_id_type_mapping(client):
    assert properties(client.post(BASE, json=event(idTypeMapping=[]))) == ["idTypeMapping"]


def test_no_duplicate_unit_id_types(client):
    body = event(
        idTypeMapping=[
            {"statsigUnitID": "userID", "column": "a"},
            {"statsigUnitID": "stableID", "column": "b"},
            {"statsigUnitID": "userID", "column": "c"},
        ]
    )
    response = client.post(BASE, json=body)
    assert properties(response) == ["idTypeMapping[2].statsigUnitID"]
    assert "userID" in response.json()["errors"][0]["errorMessage"]


def test_id_type_mapping_entries_must_not_be_blank(client):
    body = event(idTypeMapping=[{"statsigUnitID": "", "column": " "}])
    found = properties(client.post(BASE, json=body))
    assert sorted(found) == ["idTypeMapping[0].column", "idTypeMapping[0].statsigUnitID"]


def test_custom_field_keys_are_unique(client):
    body = event(
        customFieldMapping=[
            {"key": "amount", "formula": "price"},
            {"key": "amount", "formula": "price * 2"},
        ]
    )
    response = client.post(BASE, json=body)
    assert properties(response) == ["customFieldMapping[1].key"]
    assert "amount" in response.json()["errors"][0]["errorMessage"]


def test_custom_field_needs_both_key_and_formula(client):
    body = event(customFieldMapping=[{"key": "k", "formula": ""}, {"key": "", "formula": "f"}])
    found = properties(client.post(BASE, json=body))
    assert sorted(found) == ["customFieldMapping[0].formula", "customFieldMapping[1].key"]


# -- names and lengths ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a/b", " padded", "padded ", "tab\there", "nul\x00", "-"])
def test_unusable_names_are_rejected(client, name):
    assert properties(client.post(BASE, json=event(name))) == ["name"]


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("name", 200),
        ("description", 10_000),
        ("timestampColumn", 500),
        ("team", 500),
        ("teamID", 500),
    ],
)
def test_length_limits(client, field, limit):
    def body(length: int, prefix: str) -> dict[str, Any]:
        value = prefix + "x" * (length - len(prefix))
        return event(value) if field == "name" else event(prefix, **{field: value})

    assert client.post(BASE, json=body(limit, "at")).status_code == 201
    response = client.post(BASE, json=body(limit + 1, "over"))
    assert properties(response) == [field]
    assert str(limit) in response.json()["errors"][0]["errorMessage"]


def test_name_of_exactly_200_characters_round_trips(client):
    name = "é" * 200
    assert client.post(BASE, json=event(name)).status_code == 201
    assert client.get(f"{BASE}/{name}").json()["data"]["name"] == name


def test_too_many_tags(client):
    assert properties(client.post(BASE, json=event(tags=[str(i) for i in range(101)]))) == ["tags"]


def test_tag_too_long(client):
    assert properties(client.post(BASE, json=event(tags=["ok", "x" * 201]))) == ["tags[1]"]


# -- all at once, and nothing stored --------------------------------------------------------


def test_all_domain_problems_come_back_at_once(client):
    body = event(
        "a/b",
        sql="",
        timestampColumn="",
        datePartitionColumn="ds",
        idTypeMapping=[],
        customFieldMapping=[{"key": "k", "formula": "f"}, {"key": "k", "formula": "g"}],
    )
    response = client.post(BASE, json=body)
    assert sorted(properties(response)) == [
        "customFieldMapping[1].key",
        "datePartitionColumn",
        "idTypeMapping",
        "name",
        "sql",
        "timestampColumn",
    ]
    assert response.json()["message"] == "Bad Request Exception"


def test_all_type_problems_come_back_at_once(client):
    body = {"name": 1, "sql": 2, "timestampColumn": 3, "idTypeMapping": 4, "bogus": 5}
    found = properties(client.post(BASE, json=body))
    assert sorted(found) == ["bogus", "idTypeMapping", "name", "sql", "timestampColumn"]


def test_rejected_create_stores_nothing(client, snapshot):
    client.post(BASE, json=event("kept"))
    before = snapshot()
    for body in (event(sql=""), event(bogus=1), event(idTypeMapping=[]), event("kept")):
        assert client.post(BASE, json=body).status_code == 400
    assert snapshot() == before


def test_rejected_update_and_patch_store_nothing(client, snapshot):
    client.post(BASE, json=event(tags=["t"]))
    before = snapshot()
    assert client.post(f"{BASE}/Purchases", json=event(sql="")).status_code == 400
    assert client.post(f"{BASE}/Purchases", json=event(sourceType="table")).status_code == 400
    assert client.patch(f"{BASE}/Purchases", json={"timestampColumn": ""}).status_code == 400
    assert client.patch(f"{BASE}/Purchases", json={"tags": "t"}).status_code == 400
    assert snapshot() == before
