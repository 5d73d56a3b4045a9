"""What the access log may not keep: a portal link's token and a signed file link's signature (either downloads or
opens something until it expires)."""

from __future__ import annotations

from meterline.web.observability import redact


def test_portal_tokens_and_file_signatures_are_redacted() -> None:
    line = '127.0.0.1 - "GET /api/files/file.1/content?expires=1796224685&signature=8fb616ad9750 HTTP/1.1" 200'
    assert (
        redact(line)
        == '127.0.0.1 - "GET /api/files/file.1/content?expires=1796224685&signature=<redacted> HTTP/1.1" 200'
    )
    assert redact("GET /portal?token=mlp_abc&x=1") == "GET /portal?token=<redacted>&x=1"
    assert redact("GET /x?expires=5&y=signature") == "GET /x?expires=5&y=signature"  # only the parameter
