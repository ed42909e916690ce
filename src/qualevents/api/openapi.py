"""The OpenAPI document: FastAPI's, plus the request bodies and response shapes of the
handlers that parse their own bodies (strictly, for Statsig-style errors) and the key
header they read themselves. Imports ``api.context``, ``api.schemas``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from qualevents.api.context import API_KEY_HEADER
from qualevents.api.schemas import (
    CreateBody,
    ErrorResponse,
    EventListResponse,
    EventResponse,
    MessageResponse,
    PatchBody,
    RejectBody,
    SettingsBody,
    UpdateBody,
)

BASE = "/console/v1/experiments/qualifying_events"
REF = "#/components/schemas/{model}"

REQUEST_BODIES: dict[tuple[str, str], type[BaseModel]] = {
    ("post", BASE): CreateBody,
    ("post", BASE + "/{name}"): UpdateBody,
    ("patch", BASE + "/{name}"): PatchBody,
    ("post", "/console/v1/-/settings"): SettingsBody,
    ("post", "/console/v1/-/change_requests/{request_id}/reject"): RejectBody,
}
SUCCESS: dict[tuple[str, str], tuple[str, type[BaseModel]]] = {
    ("get", BASE): ("200", EventListResponse),
    ("post", BASE): ("201", EventResponse),
    ("get", BASE + "/{name}"): ("200", EventResponse),
    ("post", BASE + "/{name}"): ("200", EventResponse),
    ("patch", BASE + "/{name}"): ("200", EventResponse),
    ("delete", BASE + "/{name}"): ("200", MessageResponse),
}
ERROR_STATUSES = {
    "400": "Invalid request",
    "401": "Missing or invalid console key",
    "403": "The key may not do this",
    "404": "Not found",
    "429": "Rate limited (see Retry-After)",
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def install_openapi(app: FastAPI) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        models = {*REQUEST_BODIES.values(), *(m for _, m in SUCCESS.values()), ErrorResponse}
        _, definitions = models_json_schema(
            [(model, "validation") for model in sorted(models, key=lambda m: m.__name__)],
            ref_template=REF,
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(definitions.get("$defs", {}))
        for path, operations in document.get("paths", {}).items():
            for method, operation in operations.items():
                body = REQUEST_BODIES.get((method, path))
                if body is not None:
                    operation["requestBody"] = {
                        "required": method != "post" or "reject" not in path,
                        "content": {"application/json": {"schema": _ref(body)}},
                    }
                responses = operation.setdefault("responses", {})
                if (method, path) in SUCCESS:
                    status, model = SUCCESS[(method, path)]
                    responses.pop("200", None)
                    responses[status] = {
                        "description": "Success",
                        "content": {"application/json": {"schema": _ref(model)}},
                    }
                if path.startswith("/console/"):
                    # Handlers read the key header themselves (a FastAPI dependency per
                    # request cost more than the rest of a cached read); declared here.
                    operation["security"] = [{API_KEY_HEADER: []}]
                    responses.pop("422", None)
                    for status, description in ERROR_STATUSES.items():
                        responses.setdefault(
                            status,
                            {
                                "description": description,
                                "content": {"application/json": {"schema": _ref(ErrorResponse)}},
                            },
                        )
        document["components"]["securitySchemes"] = {
            API_KEY_HEADER: {"type": "apiKey", "in": "header", "name": API_KEY_HEADER}
        }
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        app.openapi_schema = document
        return document

    app.openapi = build  # type: ignore[method-assign]
