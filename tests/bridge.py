"""A synchronous httpx transport that drives an ASGI app in process through
``httpx.ASGITransport`` (which is async-only), so sync clients, including
``qualevents.Client``, can be tested without a server or a socket."""

from __future__ import annotations

import asyncio

import httpx


class SyncASGITransport(httpx.BaseTransport):
    def __init__(self, app: object) -> None:
        self._transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            body = request.read()
            async_request = httpx.Request(
                request.method, request.url, headers=request.headers, content=body
            )
            response = await self._transport.handle_async_request(async_request)
            content = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=content)

        return asyncio.run(send())


def in_process_client(app: object, **kwargs: object) -> httpx.Client:
    return httpx.Client(transport=SyncASGITransport(app), base_url="http://testserver", **kwargs)
