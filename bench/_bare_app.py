"""The baseline for bench/api.py: one FastAPI endpoint returning a constant JSON object,
served by uvicorn exactly like qualevents (1 worker, loopback). Imports only FastAPI."""

from __future__ import annotations

from fastapi import FastAPI

PAYLOAD = {"message": "Qualifying event read successfully.", "data": {"name": "bare"}}

app = FastAPI()


@app.get("/bare")
async def bare() -> dict[str, object]:
    return PAYLOAD
