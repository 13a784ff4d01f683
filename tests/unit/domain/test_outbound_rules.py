"""The address rules, table-tested: every attempt of the outbound table is refused by the rule it names, or
allowed; first on the URL as written, then on the addresses its host resolves to."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from graygate.domain.outbound import AddressRules, parse_address, refused_address
from graygate.domain.url_allowlist import UrlAllowlist
from tests.hostile_input import OUTBOUND_ATTEMPTS, OutboundAttempt


def _verdict(attempt: OutboundAttempt) -> str | None:
    """What the rules say, as the operator applies them: the URL first, then the resolved addresses."""
    allowlist = UrlAllowlist.parse(attempt.allowlist)
    host = urlsplit(attempt.url).hostname or ""
    if (refused := allowlist.refusal("g", attempt.url)) is not None:
        return refused
    return allowlist.addresses().address_refusal(host, attempt.resolves_to)


@pytest.mark.parametrize("attempt", OUTBOUND_ATTEMPTS, ids=[a.what for a in OUTBOUND_ATTEMPTS])
def test_each_attempt_is_refused_by_its_rule_or_called(attempt: OutboundAttempt) -> None:
    verdict = _verdict(attempt)
    if attempt.refused is None:
        assert verdict is None
    else:
        assert verdict is not None
        assert attempt.refused in verdict
        assert "unless an allowlist entry names this host" in verdict


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("169.254.169.254", "169.254.169.254"),
        ("2852039166", "169.254.169.254"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("0251.254.43518", "169.254.169.254"),
        ("[fe80::1%eth0]", "fe80::1"),
        ("10.0.0.1", "10.0.0.1"),
        ("4294967296", None),
        ("256.1.1.1", None),
        ("09.1.1.1", None),
        ("shop.svc", None),
        ("1.2.3.4.5", None),
        ("", None),
    ],
)
def test_addresses_are_read_as_getaddrinfo_reads_them(text: str, address: str | None) -> None:
    parsed = parse_address(text)
    assert (str(parsed) if parsed is not None else None) == address


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("169.254.169.254", "a cloud metadata address"),
        ("169.254.0.1", "a link-local address"),
        ("169.253.255.255", None),
        ("169.255.0.0", None),
        ("fe80::1", "a link-local address"),
        ("febf::1", "a link-local address"),
        ("fec0::1", None),
        ("::ffff:169.254.1.1", "a link-local address"),
        ("2002:a9fe:a9fe::1", "a cloud metadata address"),
        ("::a9fe:a9fe", "a cloud metadata address"),
        ("::1", None),
        ("127.0.0.1", None),
        ("10.0.0.1", None),
        ("not an address", None),
    ],
)
def test_refused_addresses(address: str, why: str | None) -> None:
    assert refused_address(address) == why


def test_explicit_hosts_are_exact_names_without_a_final_dot() -> None:
    rules = AddressRules.naming(["Node-DNS.test.", "*.wild.test", ""])
    assert rules.explicit == frozenset({"node-dns.test"})
    assert rules.address_refusal("node-dns.test.", ["169.254.20.10"]) is None
    assert rules.address_refusal("a.wild.test", ["169.254.20.10"]) is not None


def test_the_default_prometheus_is_an_explicit_exception() -> None:
    rules = UrlAllowlist().addresses("http://169.254.1.1:9090")
    assert rules.host_refusal("169.254.1.1") is None
    assert UrlAllowlist().addresses().host_refusal("169.254.1.1") is not None
