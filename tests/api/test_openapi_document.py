"""Our own /openapi.json: Statsig's paths, and the key header declared on every Console API
operation (handlers read it themselves, so FastAPI would not document it on its own)."""

from __future__ import annotations

BASE = "/console/v1/experiments/qualifying_events"


def test_the_document_has_statsigs_paths(anonymous):
    document = anonymous.get("/openapi.json").json()
    assert {BASE, BASE + "/{name}"} <= set(document["paths"])
    assert set(document["paths"][BASE + "/{name}"]) >= {"get", "post", "patch", "delete"}


def test_every_console_operation_declares_the_key_header(anonymous):
    document = anonymous.get("/openapi.json").json()
    scheme = document["components"]["securitySchemes"]["STATSIG-API-KEY"]
    assert scheme == {"type": "apiKey", "in": "header", "name": "STATSIG-API-KEY"}
    console = {p: ops for p, ops in document["paths"].items() if p.startswith("/console/")}
    assert len(console) >= 8
    for path, operations in console.items():
        for method, operation in operations.items():
            assert operation["security"] == [{"STATSIG-API-KEY": []}], (method, path)
    assert "security" not in document["paths"]["/-/health"]["get"]
