"""The basic round trip on every store backend."""

BASE = "/console/v1/experiments/qualifying_events"


def test_create_then_read_returns_what_was_written(client):
    event = {
        "name": "Log Events",
        "description": "",
        "sql": "SELECT * FROM t",
        "tags": [],
        "timestampColumn": "ts",
        "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
    }
    created = client.post(BASE, json=event)
    assert created.status_code == 201, created.text
    read = client.get(f"{BASE}/Log%20Events")
    assert read.status_code == 200
    data = read.json()["data"]
    assert {k: data[k] for k in event} == event
    assert data["owner"]["ownerType"] == "SDK_KEY"
