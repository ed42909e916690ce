"""The baseline for bench/api.py and bench/soak.py: FastAPI endpoints returning a constant
JSON object, served by uvicorn exactly like qualevents (1 worker, loopback). ``/bare`` is
what bench/api.py measures; every other path answers the same way (201 for a POST), so
bench/soak.py can send its mix of reads, lists and writes to it. Imports only FastAPI."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

PAYLOAD = {"message": "Qualifying event read successfully.", "data": {"name": "bare"}}

app = FastAPI()


@app.get("/bare")
async def bare() -> dict[str, object]:
    return PAYLOAD


@app.get("/-/health")
async def health() -> dict[str, object]:
    return {"status": "ok"}


@app.api_route("/{path:path}", methods=["GET", "POST"])
async def anything(path: str, request: Request) -> JSONResponse:
    created = request.method == "POST" and path.endswith("qualifying_events")
    return JSONResponse(PAYLOAD, status_code=201 if created else 200)
