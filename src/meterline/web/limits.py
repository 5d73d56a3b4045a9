"""The request body limit, enforced before any body is read (and so before authentication).

A body announced by `Content-Length` above the route's limit is answered 413 at once, without reading a byte of it.
A body without a length (chunked) is counted while it streams: past the limit, the 413 is sent and the application
sees the client as gone (`http.disconnect`), so it never holds more than the limit in memory.

One default limit (`METERLINE_MAX_BODY_BYTES`) for every route, the console's forms included, and a larger one where
ingestion needs it (`METERLINE_MAX_INGEST_BATCH_BYTES` for `POST /api/ingestBatch`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def too_large_body(limit: int) -> bytes:
    return json.dumps({"message": f"The request body is larger than this operation accepts ({limit} bytes)"}).encode()


class BodyLimit:
    """Pure ASGI middleware: bodies above the path's limit get 413 `{"message"}` before they are read."""

    def __init__(self, app: ASGIApp, default: int, per_path: Mapping[str, int]) -> None:
        self.app = app
        self.default = default
        self.per_path = dict(per_path)

    def limit_of(self, path: str) -> int:
        return self.per_path.get(path.rstrip("/") or "/", self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_of(scope["path"])
        length = None
        for name, value in scope.get("headers") or ():
            if name == b"content-length":
                length = value
                break
        if length is not None:
            try:
                announced = int(length)
            except ValueError:
                announced = -1  # the server (h11, httptools) refuses a malformed length before it gets here
            if announced > limit:
                await _answer(send, limit)
                return
        received = 0
        answered = started = False

        async def counted() -> Message:
            nonlocal received, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Answer now (unless the application already has), and tell the application the client is
                    # gone: it stops reading.
                    answered = True
                    if not started:
                        await _answer(send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if answered and not started:
                return  # the 413 went out instead
            started = True
            await send(message)

        await self.app(scope, counted, guarded_send)


async def _answer(send: Send, limit: int) -> None:
    body = too_large_body(limit)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
