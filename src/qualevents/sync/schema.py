"""The JSON Schema of a source file, per kind, generated from the kind's wire body (so it
can never disagree with what ``read_folder`` accepts): the shipped copies live in
``sync/schemas/`` and ``python -m qualevents.sync.schema`` rewrites them (a test fails when
they are stale). Imports ``sync.kinds``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qualevents.sync.kinds import KINDS, NOT_IN_FILES, SyncKind

SHIPPED = Path(__file__).resolve().parent / "schemas"


def file_schema(kind: SyncKind) -> dict[str, Any]:
    schema = kind.body.model_json_schema(by_alias=True)
    for key in NOT_IN_FILES:
        schema["properties"].pop(key, None)
    # The SQL may live in a .sql file of the same stem instead.
    schema["required"] = [key for key in schema.get("required", []) if key != "sql"]
    schema.pop("examples", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"qualevents {kind.noun} file ({kind.folder}/*.yaml)",
        **{key: value for key, value in schema.items() if key != "title"},
    }


def shipped_text(kind: SyncKind) -> str:
    return json.dumps(file_schema(kind), indent=2, sort_keys=True) + "\n"


def write_shipped() -> list[Path]:
    SHIPPED.mkdir(exist_ok=True)
    written = []
    for kind in KINDS:
        path = SHIPPED / f"{kind.name}.schema.json"
        path.write_text(shipped_text(kind), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_shipped():
        print(path)
