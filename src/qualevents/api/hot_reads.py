"""``HotReads``: the two requests a Console API client makes most (read one qualifying
event, list a page) answered without FastAPI's router. Imports ``api.errors``,
``api.routes.qualifying_events``, ``errors``.

Matching a path against every route and solving each route's dependencies cost more than
a cached read itself (docs/benchmarks.md). These two GETs run the very handler functions
the routes run (``read_one``, ``list_page``), with the same authentication and errors, so
the answers are byte for byte the router's; tests/api/test_hot_reads.py compares them. The
middleware sits inside ``GuardMiddleware``, so the deadline and the 500 guard apply. Every
other request, and any path these do not match exactly, goes to the router.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from qualevents.api.errors import error_response
from qualevents.api.routes.qualifying_events import BASE, list_page, read_one
from qualevents.errors import QualeventsError

_PREFIX = BASE + "/"


class HotReads:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            name = path[len(_PREFIX) :] if path.startswith(_PREFIX) else None
            if path == BASE or (name and "/" not in name):
                request = Request(scope, receive)
                try:
                    if name is None:
                        params = request.query_params
                        response = await list_page(request, params.get("limit"), params.get("page"))
                    else:
                        response = await read_one(request, name)
                except QualeventsError as error:
                    response = error_response(error)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
