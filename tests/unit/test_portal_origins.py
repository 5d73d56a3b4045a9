"""The customer portal's allow-list of embedding origins (portal/service.py) and the frame policy written from it
(web/security_headers.py): pure, table-driven. An entry that is not a plain origin never reaches the header."""

from __future__ import annotations

import pytest

from meterline.portal.service import MAX_ORIGINS, parse_origins
from meterline.tenancy import security
from meterline.web.security_headers import POLICY, framed_by

GOOD = [
    ("https://app.example.com", ["https://app.example.com"]),
    ("HTTPS://App.Example.com/", ["https://app.example.com"]),
    ("http://localhost:3000", ["http://localhost:3000"]),
    ("https://*.example.com", ["https://*.example.com"]),
    ("https://a.test, https://b.test\nhttps://a.test", ["https://a.test", "https://b.test"]),
    ("  ", []),
    ("http://127.0.0.1:65535", ["http://127.0.0.1:65535"]),
    ("http://localhost", ["http://localhost"]),
    ("https://*.example.co.uk", ["https://*.example.co.uk"]),
]
BAD = [
    "app.example.com",  # no scheme
    "ftp://app.example.com",
    "https://app.example.com/billing",  # a path
    "https://app.example.com?x=1",
    "https://app.example.com:0",
    "https://app.example.com:70000",
    "https://app.example.com;script-src",  # would end the directive
    "'self'",
    "https://app.example.com'",
    "*",
    "https://*",
    "https://-bad.example.com",
    "javascript:alert(1)",
]
TOO_WIDE = [  # origins, but refused: a wildcard right on a top-level label; http but for localhost and 127.0.0.1
    ("https://*.com", "a wildcard needs at least two labels after it"),
    ("https://*.com:443", "a wildcard needs at least two labels after it"),
    ("http://app.example.com", "http is allowed for localhost and 127.0.0.1 only"),
    ("http://*.example.com", "http is allowed for localhost and 127.0.0.1 only"),
    ("http://localhost.example.com", "http is allowed for localhost and 127.0.0.1 only"),
]


@pytest.mark.parametrize(("text", "said"), TOO_WIDE)
def test_too_wide_an_origin_is_refused_in_words(text: str, said: str) -> None:
    with pytest.raises(ValueError, match=said):
        parse_origins(f"https://fine.example.com {text}")


@pytest.mark.parametrize(("text", "origins"), GOOD)
def test_origins_are_read_lowercased_and_once(text: str, origins: list[str]) -> None:
    assert parse_origins(text) == origins


@pytest.mark.parametrize("text", BAD)
def test_anything_but_an_origin_is_refused_by_name(text: str) -> None:
    with pytest.raises(ValueError, match="is not an origin"):
        parse_origins(f"https://fine.example.com {text}")


def test_the_list_is_bounded() -> None:
    assert len(parse_origins(" ".join(f"https://s{n}.test" for n in range(MAX_ORIGINS)))) == MAX_ORIGINS
    with pytest.raises(ValueError, match=f"At most {MAX_ORIGINS}"):
        parse_origins(" ".join(f"https://s{n}.test" for n in range(MAX_ORIGINS + 1)))


def test_the_frame_policy_names_the_list_or_none() -> None:
    assert framed_by([]) == POLICY
    policy = framed_by(["https://a.test", "http://localhost:3000"])
    assert "frame-ancestors https://a.test http://localhost:3000;" in policy
    assert policy.replace("frame-ancestors https://a.test http://localhost:3000", "frame-ancestors 'none'") == POLICY


def test_a_portal_token_is_never_an_api_key() -> None:
    portal = security.new_api_token(security.PORTAL_MARK)
    key = security.new_api_token()
    assert portal.token.startswith("mlp_") and key.token.startswith("mlk_")
    assert security.token_prefix(portal.token) is None  # the API's lookup finds no key for it
    assert security.token_prefix(portal.token, security.PORTAL_MARK) == portal.prefix
    assert security.token_prefix(key.token, security.PORTAL_MARK) is None
