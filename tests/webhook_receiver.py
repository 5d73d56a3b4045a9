"""A real webhook receiver for tests: a local HTTP server (its own thread) that verifies every request's signature
with the `standardwebhooks` library, as a customer's receiver would, and keeps what it accepted.

`stop()` closes its port (the receiver is down: connections are refused) and `start()` opens the same port again;
`answer` sets the status it replies with; `delay` holds each request that long before answering.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops connections a busy sender opens at once (1 s SYN retries)


@dataclass
class Received:
    webhook_id: str
    timestamp: str
    signature: str
    body: dict[str, Any]
    raw: bytes = b""  # the body as it came: what the signatures sign


@dataclass
class Receiver:
    secrets: list[str] = field(default_factory=list)  # a request passes if any of them verifies it
    answer: int = 204
    delay: float = 0.0
    port: int = 0
    accepted: list[Received] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    arrived: list[str] = field(default_factory=list)  # every webhook-id that arrived, before answering
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.arrived.append(headers.get("webhook-id", ""))
                if receiver.delay:
                    time.sleep(receiver.delay)
                verified = False
                for secret in receiver.secrets:
                    try:
                        Webhook(secret).verify(raw, headers)
                        verified = True
                        break
                    except WebhookVerificationError:
                        continue
                status = receiver.answer if verified else 401
                if verified and 200 <= status < 300:
                    receiver.accepted.append(
                        Received(
                            headers["webhook-id"],
                            headers["webhook-timestamp"],
                            headers["webhook-signature"],
                            json.loads(raw),
                            raw,
                        )
                    )
                elif not verified:
                    receiver.rejected.append(headers.get("webhook-id", ""))
                try:
                    self.send_response(status)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender is gone (killed mid-delivery)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def types(self) -> list[str]:
        return [r.body["type"] for r in self.accepted]

    def of_type(self, event_type: str) -> list[Received]:
        return [r for r in self.accepted if r.body["type"] == event_type]


def wait_for(condition: Any, step: Any = None, timeout: float = 30) -> None:
    """Call `step` (a delivery round, say) until `condition()` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        if step is not None and step():
            continue
        time.sleep(0.05)
