"""Every endpoint of Statsig's qualifying-events API, as a client sees it: status codes, exact
messages, round-trip fidelity, owners, names, dry runs, pagination, ETags and PATCH."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

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
    return body


def url(name: str) -> str:
    return f"{BASE}/{quote(name, safe='')}"


def create(client, name: str = "Purchases", **fields: Any) -> dict[str, Any]:
    response = client.post(BASE, json=event(name, **fields))
    assert response.status_code == 201, response.text
    return response.json()["data"]


def names(client, **params: Any) -> list[str]:
    response = client.get(BASE, params=params)
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["data"]]


# -- the five endpoints ---------------------------------------------------------------------


def test_create_answers_201_with_the_event(client):
    response = client.post(BASE, json=event(description="bought something"))
    assert response.status_code == 201
    body = response.json()
    assert body["message"] == "Qualifying event created successfully."
    assert body["data"]["name"] == "Purchases"
    assert body["data"]["description"] == "bought something"


def test_read_returns_the_event(client):
    create(client)
    response = client.get(url("Purchases"))
    assert response.status_code == 200
    assert response.json()["message"] == "Qualifying event read successfully."
    assert response.json()["data"]["sql"] == "SELECT user_id, ts FROM events"


def test_list_returns_every_event_with_pagination(client):
    create(client, "one")
    create(client, "two")
    response = client.get(BASE)
    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Qualifying events listed successfully."
    assert [item["name"] for item in body["data"]] == ["one", "two"]
    assert body["pagination"] == {
        "itemsPerPage": 100,
        "pageNumber": 1,
        "totalItems": 2,
        "nextPage": None,
        "previousPage": None,
        "all": BASE,
    }


def test_update_with_post_to_the_name_replaces_the_definition(client):
    create(client, tags=["a"], description="old")
    response = client.post(url("Purchases"), json=event(sql="SELECT 2", description="new"))
    assert response.status_code == 200
    assert response.json()["message"] == "Qualifying event updated successfully."
    data = client.get(url("Purchases")).json()["data"]
    assert data["sql"] == "SELECT 2"
    assert data["description"] == "new"
    assert "tags" not in data  # a replacement: what the body left out is gone


def test_update_without_name_in_body_uses_the_path(client):
    create(client)
    body = event(sql="SELECT 3")
    del body["name"]
    response = client.post(url("Purchases"), json=body)
    assert response.status_code == 200, response.text
    assert client.get(url("Purchases")).json()["data"]["sql"] == "SELECT 3"


def test_delete_answers_without_data_and_the_event_is_gone(client):
    create(client)
    response = client.delete(url("Purchases"))
    assert response.status_code == 200
    assert response.json() == {"message": "Qualifying event deleted successfully."}
    assert client.get(url("Purchases")).status_code == 404
    assert names(client) == []


def test_a_deleted_name_can_be_created_again(client):
    create(client)
    client.delete(url("Purchases"))
    create(client, sql="SELECT 9")
    assert client.get(url("Purchases")).json()["data"]["sql"] == "SELECT 9"


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH", "DELETE"])
def test_unknown_name_is_404_on_every_method(client, method):
    body = event("ghost") if method in ("POST", "PATCH") else None
    response = client.request(method, url("ghost"), json=body)
    assert response.status_code == 404
    assert "ghost" in response.json()["message"]


# -- round-trip fidelity ----------------------------------------------------------------------


def test_every_field_round_trips_unchanged(client):
    sent = event(
        "Everything",
        description="",
        tags=[],
        sql="",
        timestampAsDay=False,
        idTypeMapping=[
            {"statsigUnitID": "userID", "column": "user_id"},
            {"statsigUnitID": "stableID", "column": "stable_id"},
        ],
        sourceType="table",
        tableName="`shoppy-sales.kenny_dev.shoppy-events`",
        datePartitionColumn="ds",
        customFieldMapping=[{"key": "amount", "formula": "price * qty"}],
        isReadOnly=False,
        isVerified=True,
        owner={"ownerID": "u1", "ownerType": "USER", "ownerName": "Ann", "ownerEmail": "a@x.io"},
        team="growth",
        teamID="t-1",
    )
    created = client.post(BASE, json=sent).json()["data"]
    read = client.get(url("Everything")).json()["data"]
    listed = client.get(BASE).json()["data"][0]
    assert created == read == listed == sent


def test_fields_never_written_are_absent_and_description_defaults_to_empty(client):
    create(client)
    data = client.get(url("Purchases")).json()["data"]
    assert data["description"] == ""
    for absent in (
        "tags",
        "customFieldMapping",
        "sourceType",
        "tableName",
        "datePartitionColumn",
        "isReadOnly",
        "isVerified",
        "timestampAsDay",
        "team",
        "teamID",
        "dryRun",
    ):
        assert absent not in data, absent


def test_empty_list_and_empty_string_stay_distinct_from_absent(client):
    create(client, "with", tags=[], customFieldMapping=[], description="")
    create(client, "without")
    with_ = client.get(url("with")).json()["data"]
    without = client.get(url("without")).json()["data"]
    assert with_["tags"] == [] and with_["customFieldMapping"] == []
    assert "tags" not in without and "customFieldMapping" not in without


def test_statsig_placeholder_custom_field_round_trips(client):
    create(client, customFieldMapping=[{"key": "", "formula": ""}])
    data = client.get(url("Purchases")).json()["data"]
    assert data["customFieldMapping"] == [{"key": "", "formula": ""}]


def test_null_description_reads_back_as_empty_string(client):
    create(client, description=None)
    assert client.get(url("Purchases")).json()["data"]["description"] == ""


# -- owner ----------------------------------------------------------------------------------


def test_owner_defaults_to_the_calling_key(client, store):
    create(client)
    [key] = [k for k in store.list_keys() if k.name == "ci"]
    owner = client.get(url("Purchases")).json()["data"]["owner"]
    assert owner == {"ownerID": key.id, "ownerType": "SDK_KEY", "ownerName": "ci"}


def test_an_explicit_owner_is_kept(client):
    owner = {"ownerID": "abc123", "ownerType": "USER", "ownerName": "John Doe"}
    create(client, owner=owner)
    assert client.get(url("Purchases")).json()["data"]["owner"] == owner


def test_update_without_owner_keeps_the_owner(client):
    created = create(client)
    client.post(url("Purchases"), json=event(sql="SELECT 5"))
    assert client.get(url("Purchases")).json()["data"]["owner"] == created["owner"]


# -- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["Log Events", "a+b", "50% off", "what?", "#1 & co", "naïve café ☕", "back\\slash", "a.b"],
)
def test_names_with_printable_characters_work_through_url_encoding(client, name):
    create(client, name)
    assert client.get(url(name)).json()["data"]["name"] == name
    update = client.post(url(name), json=event(name, sql="SELECT 7"))
    assert update.status_code == 200, update.text
    assert client.delete(url(name)).status_code == 200
    assert client.get(url(name)).status_code == 404


def test_names_are_case_sensitive(client):
    create(client, "purchases")
    create(client, "Purchases")
    assert names(client) == ["purchases", "Purchases"]
    client.delete(url("purchases"))
    assert client.get(url("Purchases")).status_code == 200


def test_name_cannot_change_on_update(client):
    create(client)
    response = client.post(url("Purchases"), json=event("Renamed"))
    assert response.status_code == 400
    assert response.json()["errors"][0]["property"] == "name"
    assert names(client) == ["Purchases"]
    assert client.get(url("Renamed")).status_code == 404


def test_name_cannot_change_on_patch(client):
    create(client)
    response = client.patch(url("Purchases"), json={"name": "Renamed"})
    assert response.status_code == 400
    assert names(client) == ["Purchases"]


def test_duplicate_name_is_400_name_in_use_and_keeps_the_first(client):
    create(client, sql="SELECT 1")
    response = client.post(BASE, json=event(sql="SELECT 2"))
    assert response.status_code == 400
    assert response.json()["message"] == "Name is already in use"
    assert response.json()["errors"][0]["property"] == "name"
    assert client.get(url("Purchases")).json()["data"]["sql"] == "SELECT 1"


# -- dry runs -------------------------------------------------------------------------------


def test_dry_run_checks_and_stores_nothing(client, store):
    response = client.post(BASE, json=event(dryRun=True))
    assert response.status_code == 200
    body = response.json()
    assert body["dryRun"] is True
    assert "dry run" in body["message"].lower()
    assert body["data"]["name"] == "Purchases"
    assert "dryRun" not in body["data"]
    assert names(client) == []
    assert store.list_all_revisions(0, 10).total == 0


def test_dry_run_reports_validation_problems(client):
    response = client.post(BASE, json=event(sql="", dryRun=True))
    assert response.status_code == 400
    assert response.json()["errors"][0]["property"] == "sql"


def test_dry_run_checks_name_uniqueness(client):
    create(client)
    response = client.post(BASE, json=event(dryRun=True))
    assert response.status_code == 400
    assert response.json()["message"] == "Name is already in use"


def test_dry_run_false_creates(client):
    response = client.post(BASE, json=event(dryRun=False))
    assert response.status_code == 201
    assert names(client) == ["Purchases"]


def test_dry_run_update_changes_nothing(client):
    create(client)
    response = client.post(url("Purchases"), json=event(sql="SELECT 2", dryRun=True))
    assert response.status_code == 200
    assert response.json()["dryRun"] is True
    assert response.json()["data"]["sql"] == "SELECT 2"
    assert client.get(url("Purchases")).json()["data"]["sql"] == "SELECT user_id, ts FROM events"


# -- pagination -----------------------------------------------------------------------------


def test_empty_store_lists_nothing(client):
    body = client.get(BASE).json()
    assert body["data"] == []
    assert body["pagination"]["totalItems"] == 0
    assert body["pagination"]["nextPage"] is None
    assert body["pagination"]["previousPage"] is None


def test_exact_last_page_has_no_next_link(client):
    for i in range(4):
        create(client, f"e{i}")
    body = client.get(BASE, params={"limit": 2, "page": 2}).json()
    assert [item["name"] for item in body["data"]] == ["e2", "e3"]
    assert body["pagination"]["nextPage"] is None
    assert body["pagination"]["previousPage"] is not None


def test_page_beyond_the_end_is_empty(client):
    create(client, "only")
    body = client.get(BASE, params={"limit": 10, "page": 5}).json()
    assert body["data"] == []
    assert body["pagination"]["pageNumber"] == 5
    assert body["pagination"]["nextPage"] is None
    # its previous link leads back to data, not to another empty page
    previous = client.get(body["pagination"]["previousPage"]).json()
    assert [item["name"] for item in previous["data"]] == ["only"]


def test_limit_and_page_as_strings(client):
    for i in range(3):
        create(client, f"e{i}")
    assert names(client, limit="1", page="2") == ["e1"]


def test_limit_above_maximum_is_clamped(client):
    create(client)
    body = client.get(BASE, params={"limit": 5000}).json()
    assert body["pagination"]["itemsPerPage"] == 1000
    assert [item["name"] for item in body["data"]] == ["Purchases"]


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("limit", "0"),
        ("limit", "-1"),
        ("limit", "ten"),
        ("limit", "1.5"),
        ("page", "0"),
        ("page", "-3"),
        ("page", "abc"),
        ("page", "1e400"),
        ("page", "99999999999999999999"),
    ],
)
def test_bad_limit_or_page_is_400_naming_the_parameter(client, param, value):
    response = client.get(BASE, params={param: value})
    assert response.status_code == 400
    assert response.json()["errors"][0]["property"] == param


def test_following_links_as_is_walks_every_item_once(client):
    created = [f"event {i}" for i in range(7)]
    for name in created:
        create(client, name)
    seen: list[str] = []
    link = f"{BASE}?limit=3"
    pages = 0
    while link:
        body = client.get(link).json()
        seen += [item["name"] for item in body["data"]]
        link = body["pagination"]["nextPage"]
        pages += 1
        assert pages <= 3
    assert seen == created
    last = client.get(f"{BASE}?limit=3&page=3").json()
    back = client.get(last["pagination"]["previousPage"]).json()
    assert [item["name"] for item in back["data"]] == created[3:6]
    everything = client.get(last["pagination"]["all"]).json()
    assert [item["name"] for item in everything["data"]] == created


def test_order_is_creation_order_and_survives_updates(client):
    for name in ("b", "a", "c"):
        create(client, name)
    client.post(url("b"), json=event("b", sql="SELECT 2"))
    client.patch(url("a"), json={"description": "x"})
    assert names(client) == ["b", "a", "c"]


# -- ETags ----------------------------------------------------------------------------------


def test_etag_changes_with_every_write(client):
    first = client.post(BASE, json=event()).headers["ETag"]
    assert client.get(url("Purchases")).headers["ETag"] == first
    second = client.post(url("Purchases"), json=event(sql="SELECT 2")).headers["ETag"]
    assert second != first
    assert client.get(url("Purchases")).headers["ETag"] == second


def test_update_with_matching_if_match_succeeds(client):
    tag = client.post(BASE, json=event()).headers["ETag"]
    response = client.post(url("Purchases"), json=event(sql="SELECT 2"), headers={"If-Match": tag})
    assert response.status_code == 200


def test_update_with_stale_if_match_is_412_and_changes_nothing(client):
    stale = client.post(BASE, json=event()).headers["ETag"]
    client.post(url("Purchases"), json=event(sql="SELECT 2"))
    response = client.post(
        url("Purchases"), json=event(sql="SELECT 3"), headers={"If-Match": stale}
    )
    assert response.status_code == 412
    assert client.get(url("Purchases")).json()["data"]["sql"] == "SELECT 2"


def test_patch_with_stale_if_match_is_412(client):
    stale = client.post(BASE, json=event()).headers["ETag"]
    client.patch(url("Purchases"), json={"description": "x"})
    response = client.patch(
        url("Purchases"), json={"description": "y"}, headers={"If-Match": stale}
    )
    assert response.status_code == 412
    assert client.get(url("Purchases")).json()["data"]["description"] == "x"


def test_delete_with_matching_if_match_deletes(client):
    tag = client.post(BASE, json=event()).headers["ETag"]
    assert client.delete(url("Purchases"), headers={"If-Match": tag}).status_code == 200
    assert client.get(url("Purchases")).status_code == 404


def test_delete_with_stale_if_match_is_412_and_keeps_the_event(client):
    stale = client.post(BASE, json=event()).headers["ETag"]
    client.post(url("Purchases"), json=event(sql="SELECT 2"))
    assert client.delete(url("Purchases"), headers={"If-Match": stale}).status_code == 412
    assert client.get(url("Purchases")).status_code == 200


def test_if_match_star_matches_any_revision(client):
    client.post(BASE, json=event())
    client.post(url("Purchases"), json=event(sql="SELECT 2"))
    assert client.delete(url("Purchases"), headers={"If-Match": "*"}).status_code == 200


# -- PATCH ----------------------------------------------------------------------------------


def test_patch_changes_only_the_fields_sent(client):
    create(client, tags=["x"], description="d", customFieldMapping=[{"key": "k", "formula": "f"}])
    response = client.patch(url("Purchases"), json={"description": "changed"})
    assert response.status_code == 200
    assert response.json()["message"] == "Qualifying event updated successfully."
    data = client.get(url("Purchases")).json()["data"]
    assert data["description"] == "changed"
    assert data["tags"] == ["x"]
    assert data["customFieldMapping"] == [{"key": "k", "formula": "f"}]
    assert data["sql"] == "SELECT user_id, ts FROM events"


def test_patch_with_null_unsets_a_field(client):
    create(client, tags=["x"])
    client.patch(url("Purchases"), json={"tags": None})
    assert "tags" not in client.get(url("Purchases")).json()["data"]


def test_patch_that_breaks_an_invariant_is_400_and_changes_nothing(client):
    create(client)
    response = client.patch(url("Purchases"), json={"idTypeMapping": []})
    assert response.status_code == 400
    assert response.json()["errors"][0]["property"] == "idTypeMapping"
    assert len(client.get(url("Purchases")).json()["data"]["idTypeMapping"]) == 1


def test_patch_rejects_unknown_fields(client):
    create(client)
    response = client.patch(url("Purchases"), json={"descripton": "typo"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["property"] == "descripton"


# -- headers clients send -------------------------------------------------------------------


def test_api_version_20240601_is_accepted(client):
    response = client.get(BASE, headers={"STATSIG-API-VERSION": "20240601"})
    assert response.status_code == 200


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_other_api_version_is_a_clear_400(client, method):
    response = client.request(
        method,
        BASE,
        json=event() if method == "POST" else None,
        headers={"STATSIG-API-VERSION": "20230101"},
    )
    assert response.status_code == 400
    body = response.json()
    assert "20240601" in body["message"]
    assert body["errors"][0]["property"] == "STATSIG-API-VERSION"
    assert names(client) == []


def test_review_and_sdk_headers_are_accepted(client):
    headers = {
        "x-respect-review-settings": "true",
        "STATSIG-SDK-TYPE": "terraform-provider",
        "STATSIG-SDK-VERSION": "1.2.3",
    }
    assert client.post(BASE, json=event(), headers=headers).status_code == 201
    assert client.get(BASE, headers=headers).status_code == 200
    assert client.get(url("Purchases"), headers=headers).status_code == 200
    update = client.post(url("Purchases"), json=event(sql="SELECT 2"), headers=headers)
    assert update.status_code == 200
    assert client.delete(url("Purchases"), headers=headers).status_code == 200
