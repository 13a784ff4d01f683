"""The hostile inputs tried against graygate, as tables shared by the unit tests, the tests against real servers and
the README's figures (`python -m tests.hostile_input` prints them).

Each row is an attempt and what graygate must make of it; the tests assert the outcome of every row, and the table
printed for the README is made from the same rows.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

__all__ = ["OUTBOUND_ATTEMPTS", "PROMQL_ATTEMPTS", "OutboundAttempt", "PromQLAttempt", "markdown"]

REFUSED = None
"""The outcome of an attempt graygate refuses: nothing is sent."""


@dataclass(frozen=True)
class PromQLAttempt:
    """A value put into a query template at one place: `expected` is the query sent (None: refused)."""

    what: str
    template: str
    value: str
    expected: str | None


_IN_DQ = 'hostile_probe{name="{{ canaryHost }}"}'
_IN_SQ = "hostile_probe{name='{{ canaryHost }}'}"
_IN_RAW = "hostile_probe{name=`{{ canaryHost }}`}"
_IN_RE = 'hostile_probe{name=~"{{ canaryHost }}"}'
_NOT_RE = 'hostile_probe{name!~"{{ canaryHost }}"}'
_BARE = "hostile_probe > {{ canaryHost }}"
_COMMENT = "hostile_probe # {{ canaryHost }}"

PROMQL_ATTEMPTS: tuple[PromQLAttempt, ...] = (
    PromQLAttempt(
        "end the matcher, add `or vector(1)`", _IN_DQ, '"} or vector(1) #', 'hostile_probe{name="\\"} or vector(1) #"}'
    ),
    PromQLAttempt("escape the escape", _IN_DQ, '\\"} or vector(1) #', 'hostile_probe{name="\\\\\\"} or vector(1) #"}'),
    PromQLAttempt("a trailing backslash", _IN_DQ, "x\\", 'hostile_probe{name="x\\\\"}'),
    PromQLAttempt("a newline", _IN_DQ, "a\n} or vector(1)", 'hostile_probe{name="a\\n} or vector(1)"}'),
    PromQLAttempt("a carriage return and a tab", _IN_DQ, "a\r\tb", 'hostile_probe{name="a\\r\\tb"}'),
    PromQLAttempt("a NUL byte", _IN_DQ, "a\x00b", 'hostile_probe{name="a\\u0000b"}'),
    PromQLAttempt('a backtick in a "-string', _IN_DQ, "a`b", 'hostile_probe{name="a`b"}'),
    PromQLAttempt(
        "a single quote in a '-string", _IN_SQ, "'} or vector(1) #", "hostile_probe{name='\\'} or vector(1) #'}"
    ),
    PromQLAttempt("a double quote in a '-string", _IN_SQ, 'a"b', "hostile_probe{name='a\"b'}"),
    PromQLAttempt("a backtick in a raw string", _IN_RAW, "` or vector(1) #", REFUSED),
    PromQLAttempt("a quote in a raw string", _IN_RAW, 'a"b', 'hostile_probe{name=`a"b`}'),
    PromQLAttempt("`.*` after `=~`: match everything", _IN_RE, ".*", 'hostile_probe{name=~"\\\\.\\\\*"}'),
    PromQLAttempt("an alternation after `=~`", _IN_RE, "nothing|.+", 'hostile_probe{name=~"nothing\\\\|\\\\.\\\\+"}'),
    PromQLAttempt("`.*` after `!~`: exclude everything", _NOT_RE, ".*", 'hostile_probe{name!~"\\\\.\\\\*"}'),
    PromQLAttempt(
        "a host name with dots after `=~`", _IN_RE, "app.shop.svc", 'hostile_probe{name=~"app\\\\.shop\\\\.svc"}'
    ),
    PromQLAttempt("non-ASCII letters", _IN_DQ, "ünï", 'hostile_probe{name="\\u00fcn\\u00ef"}'),
    PromQLAttempt("a right-to-left override", _IN_DQ, "a\u202eb", 'hostile_probe{name="a\\u202eb"}'),
    PromQLAttempt("U+FFFD (PromQL's lexer: invalid UTF-8)", _IN_DQ, "a\ufffd", 'hostile_probe{name="a\\ufffd"}'),
    PromQLAttempt("an emoji (beyond U+FFFF)", _IN_DQ, "a\U0001f600", 'hostile_probe{name="a\\U0001f600"}'),
    PromQLAttempt("a lone surrogate", _IN_DQ, "a\udc80", REFUSED),
    PromQLAttempt("a placeholder inside the value", _IN_DQ, "{{ namespace }}", 'hostile_probe{name="{{ namespace }}"}'),
    PromQLAttempt("outside quotes: `1 or vector(1)`", _BARE, "1 or vector(1)", REFUSED),
    PromQLAttempt("outside quotes: `1)`", _BARE, "1)", REFUSED),
    PromQLAttempt("outside quotes: a number", _BARE, "0.5", "hostile_probe > 0.5"),
    PromQLAttempt("outside quotes: a name with a hyphen", _BARE, "shop-a", REFUSED),
    PromQLAttempt("in a comment: a newline", _COMMENT, "x\nor vector(1)", REFUSED),
    PromQLAttempt("in a comment: plain text", _COMMENT, "x or vector(1)", "hostile_probe # x or vector(1)"),
)


def _cell(text: str | None) -> str:
    if text is None:
        return "refused"
    shown = "".join(char if " " <= char <= "~" else f"<U+{ord(char):04X}>" for char in text)
    return f"`` {shown.replace('|', '&#124;')} ``"


def markdown(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def promql_table() -> str:
    rows = [(a.what, _cell(a.template), _cell(a.value), _cell(a.expected)) for a in PROMQL_ATTEMPTS]
    return markdown(rows, ("attempt", "template", "value", "query sent"))


@dataclass(frozen=True)
class OutboundAttempt:
    """A URL a release names, how its host resolves (empty: it is an address, or is refused before resolution),
    and the allowlist in force: `refused` names the rule that stops it (None: the call is made)."""

    what: str
    url: str
    resolves_to: tuple[str, ...] = ()
    allowlist: str = ""
    refused: str | None = None


METADATA = "a cloud metadata"
LINK_LOCAL = "a link-local address"

OUTBOUND_ATTEMPTS: tuple[OutboundAttempt, ...] = (
    OutboundAttempt("the metadata service", "http://169.254.169.254/latest/meta-data/", refused=METADATA),
    OutboundAttempt("ECS task credentials", "http://169.254.170.2/v2/credentials", refused=METADATA),
    OutboundAttempt("another link-local address", "http://169.254.10.1:8080/", refused=LINK_LOCAL),
    OutboundAttempt("IPv6 link-local", "http://[fe80::1]/", refused=LINK_LOCAL),
    OutboundAttempt("IPv6 link-local with a zone", "http://[fe80::1%25eth0]/", refused=LINK_LOCAL),
    OutboundAttempt("AWS's IPv6 metadata", "http://[fd00:ec2::254]/latest/", refused=METADATA),
    OutboundAttempt("IPv4-mapped IPv6", "http://[::ffff:169.254.169.254]/", refused=METADATA),
    OutboundAttempt("NAT64", "http://[64:ff9b::a9fe:a9fe]/", refused=METADATA),
    OutboundAttempt("decimal IPv4", "http://2852039166/", refused=METADATA),
    OutboundAttempt("hexadecimal IPv4", "http://0xa9fea9fe/", refused=METADATA),
    OutboundAttempt("octal dotted IPv4", "http://0251.0376.0251.0376/", refused=METADATA),
    OutboundAttempt("two-part IPv4", "http://169.254.43518/", refused=METADATA),
    OutboundAttempt("GCP's metadata name", "http://metadata.google.internal/computeMetadata/v1/", refused=METADATA),
    OutboundAttempt("the name with a final dot, in capitals", "http://METADATA.google.internal./", refused=METADATA),
    OutboundAttempt("Alibaba Cloud's metadata", "http://100.100.100.200/latest/", refused=METADATA),
    OutboundAttempt("Azure's WireServer", "http://168.63.129.16/", refused=METADATA),
    OutboundAttempt(
        "a name resolving to the metadata service", "http://rebind.test/", ("169.254.169.254",), refused=METADATA
    ),
    OutboundAttempt("a name resolving to IPv6 link-local", "http://v6.test/", ("fe80::5",), refused=LINK_LOCAL),
    OutboundAttempt(
        "a name with one good and one bad address",
        "http://mixed.test/",
        ("127.0.0.1", "169.254.169.254"),
        refused=METADATA,
    ),
    OutboundAttempt(
        "an allowed wildcard does not make it explicit",
        "http://x.rebind.test/",
        ("169.254.169.254",),
        "http://*.rebind.test",
        METADATA,
    ),
    OutboundAttempt(
        "an entry naming the host allows it", "http://node-dns.test/", ("169.254.20.10",), "http://node-dns.test"
    ),
    OutboundAttempt(
        "an entry naming the address allows it", "http://169.254.169.254/", allowlist="http://169.254.169.254"
    ),
    OutboundAttempt("loopback", "http://127.0.0.1:8080/", ()),
    OutboundAttempt("a cluster name", "http://checkout.shop.svc/", ("10.96.0.12",)),
    OutboundAttempt("a name that looks like metadata", "http://metadata.shop.svc/", ("10.96.0.13",)),
)


def _refusal_cell(refused: str | None) -> str:
    if refused is None:
        return "called"
    return "refused (cloud metadata)" if refused == METADATA else "refused (link-local)"


def outbound_table() -> str:
    rows = [
        (
            a.what,
            f"`{a.url}`",
            ", ".join(a.resolves_to) or "-",
            f"`{a.allowlist}`" if a.allowlist else "-",
            _refusal_cell(a.refused),
        )
        for a in OUTBOUND_ATTEMPTS
    ]
    return markdown(rows, ("attempt", "URL", "resolves to", "allowlist", "outcome"))


if __name__ == "__main__":
    sys.stdout.write(f"PromQL\n\n{promql_table()}\n\nOutbound calls\n\n{outbound_table()}\n")
