"""A lean HTTP/1.1 keep-alive client for the load bench: requests are prebuilt bytes, answers are read by their
Content-Length, nothing else is parsed. A general client (httpx) spends ~1 ms of CPU per request in Python, and on
this 2-core machine the clients share the cores with the server: the bench would measure its own clients."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, token: str) -> None:
        self.reader, self.writer = reader, writer
        self.head = f"Host: {host}\r\nAuthorization: Bearer {token}\r\nConnection: keep-alive\r\n"

    @classmethod
    async def open(cls, base: str, token: str) -> Connection:
        url = urlsplit(base)
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        return cls(reader, writer, url.netloc, token)

    async def request(self, method: str, path: str, body: object | None = None) -> tuple[int, bytes]:
        if body is None:
            data = f"{method} {path} HTTP/1.1\r\n{self.head}\r\n".encode()
        else:
            payload = json.dumps(body).encode()
            data = (f"{method} {path} HTTP/1.1\r\n{self.head}Content-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload
        self.writer.write(data)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
                break
        answer = await self.reader.readexactly(length) if length else b""
        return status, answer

    def close(self) -> None:
        self.writer.close()
