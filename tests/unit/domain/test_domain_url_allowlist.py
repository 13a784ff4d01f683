"""The URL allowlist as a table: each entry form against the URLs it must allow and the look-alikes it must not."""

from __future__ import annotations

import pytest

from graygate.domain.url_allowlist import UrlAllowlist

CASES = [
    # entry, url, allowed
    ("http://checkout-canary.shop.svc:8080/", "http://checkout-canary.shop.svc:8080/healthz", True),
    ("http://checkout-canary.shop.svc:8080/", "http://checkout-canary.shop.svc:8080/", True),
    ("http://checkout-canary.shop.svc:8080/", "http://CHECKOUT-canary.shop.svc:8080/healthz?x=1#f", True),
    ("http://checkout-canary.shop.svc:8080/", "https://checkout-canary.shop.svc:8080/healthz", False),
    ("http://checkout-canary.shop.svc:8080/", "http://checkout-canary.shop.svc:9090/healthz", False),
    ("http://checkout-canary.shop.svc:8080/", "http://checkout-canary.shop.svc/healthz", False),
    ("http://checkout-canary.shop.svc:8080", "http://checkout-canary.shop.svc:8080.evil.example/", False),
    ("http://checkout-canary.shop.svc:8080", "http://checkout-canary.shop.svc.evil.example:8080/", False),
    ("http://checkout-canary.shop.svc:8080/", "http://evil.example/?checkout-canary.shop.svc:8080/", False),
    ("http://checkout-canary.shop.svc:8080/", "http://checkout-canary.shop.svc:8080@evil.example/", False),
    ("http://checkout-canary.shop.svc:8080/", "http://user@checkout-canary.shop.svc:8080/", False),
    ("https://payments-canary.pay.svc/", "https://payments-canary.pay.svc:443/status", True),
    ("https://payments-canary.pay.svc/", "https://payments-canary.pay.svc:8443/status", False),
    ("http://web.svc:80/api", "http://web.svc/api", True),
    ("http://web.svc/api", "http://web.svc/api/v1/health", True),
    ("http://web.svc/api", "http://web.svc/apix", False),
    ("http://web.svc/api/", "http://web.svc/api", True),
    ("http://web.svc/api/", "http://web.svc/api/../admin", False),
    ("http://web.svc/api/", "http://web.svc/api/%2e%2e/admin", False),
    ("http://web.svc/api/", "http://web.svc/admin", False),
    ("http://*.shop.svc:8080/", "http://checkout-canary.shop.svc:8080/healthz", True),
    ("http://*.shop.svc:8080/", "http://a.b.shop.svc:8080/", True),
    ("http://*.shop.svc:8080/", "http://shop.svc:8080/", False),
    ("http://*.shop.svc:8080/", "http://evilshop.svc:8080/", False),
    ("http://10.0.0.7:9090", "http://10.0.0.7:9090/api/v1/query", True),
    ("http://[fd00::7]:9090", "http://[fd00::7]:9090/", True),
    ("http://[fd00::7]:9090", "http://[fd00::8]:9090/", False),
    ("http://web.svc/", "ftp://web.svc/", False),
    ("http://web.svc/", "not a url", False),
    ("http://web.svc/", "http://web.svc:99999/", False),
    ("http://web.svc/", "http://web.svc:0/", False),
    ("http://web.svc/api/", "http://web.svc/api/..;/admin", False),
    ("http://web.svc/api/", "http://web.svc/api/x%2F..%2F..%2Fadmin", False),
    ("http://web.svc/api/", "http://web.svc/api/x%5C..%5Cadmin", False),
]


@pytest.mark.parametrize(("entry", "url", "allowed"), CASES, ids=[f"{e} {u}" for e, u, _ in CASES])
def test_an_entry_allows_only_urls_under_it(entry: str, url: str, allowed: bool) -> None:
    assert UrlAllowlist.parse(entry).allows(url) is allowed


@pytest.mark.parametrize("text", ["", None, " , ,"])
def test_an_empty_allowlist_allows_everything(text: str | None) -> None:
    allowlist = UrlAllowlist.parse(text)
    assert allowlist.entries == ()
    assert allowlist.allows("http://anything.example:1234/x")
    assert allowlist.refusal("probe", "http://anything.example/") is None


def test_a_url_is_allowed_by_any_entry_of_the_comma_separated_list() -> None:
    allowlist = UrlAllowlist.parse("http://checkout-canary.shop.svc:8080/, https://payments-canary.pay.svc/")
    assert [entry.text for entry in allowlist.entries] == [
        "http://checkout-canary.shop.svc:8080/",
        "https://payments-canary.pay.svc/",
    ]
    assert allowlist.allows("https://payments-canary.pay.svc/ready")
    assert allowlist.allows("http://checkout-canary.shop.svc:8080/healthz")
    assert not allowlist.allows("http://payments-canary.pay.svc/ready")


def test_the_refusal_names_the_gate_the_url_and_what_is_allowed() -> None:
    allowlist = UrlAllowlist.parse("http://checkout-canary.shop.svc:8080/")
    message = allowlist.refusal("health", "http://169.254.169.254/latest/meta-data/")
    assert message is not None
    assert message.startswith("gate health: http://169.254.169.254/latest/meta-data/ is not in the operator's URL")
    assert "(http://checkout-canary.shop.svc:8080/)" in message
    assert "nothing was sent" in message


@pytest.mark.parametrize(
    ("text", "why"),
    [
        pytest.param("checkout-canary.shop.svc:8080", "not an http:// or https:// URL", id="no-scheme"),
        pytest.param("ftp://files.svc/", "not an http:// or https:// URL", id="other-scheme"),
        pytest.param("http://", "no host", id="no-host"),
        pytest.param("http://user:pw@web.svc/", "user information", id="userinfo"),
        pytest.param("http://web.svc/a/../b", "'..' path segment", id="dot-dot"),
        pytest.param("http://web.svc:70000/", "Port out of range", id="bad-port"),
        pytest.param("http://we*b.svc/", "a host is a DNS name", id="inner-wildcard"),
        pytest.param("http://*/", "a host is a DNS name", id="bare-wildcard"),
        pytest.param("http://web_svc/", "a host is a DNS name", id="underscore"),
    ],
)
def test_a_bad_entry_is_refused_with_its_text(text: str, why: str) -> None:
    with pytest.raises(ValueError, match="allowlist entry") as raised:
        UrlAllowlist.parse(f"http://ok.svc/,{text}")
    assert repr(text) in str(raised.value)
    assert why in str(raised.value)
