"""Which addresses the operator never calls on a release's behalf, whatever the URL allowlist says: link-local
addresses and the cloud providers' metadata services.

Why: a release names URLs (a probe, a webhook, a Prometheus address, a document to fetch) that the operator
requests from inside the cluster. On most clouds `http://169.254.169.254/` (or `metadata.google.internal`) answers
with the node's credentials to whoever asks from the node's network, so a release author who can make the operator
ask could read them in a verdict. The rule holds with an empty allowlist (which allows every URL), and it is
checked twice: on the URL as written (an IP literal in any spelling `inet_aton` accepts, a metadata name) before
anything is sent, and on every address a name resolves to, right before the connection, which is then made only to
an address that was checked (so a name that resolves to a refused address is refused, and a DNS answer cannot
change between the check and the connection).

An exception is explicit: an allowlist entry whose host is exactly the URL's host (not `*.` a parent), or an
address the platform team configured itself (the default Prometheus). Then the host, and what it resolves to, is
called (NodeLocal DNSCache's 169.254.20.10, an on-premises service on a link-local address).

Refused:

* 169.254.0.0/16 and fe80::/10 (link-local: the metadata services of AWS, GCP, Azure, OpenStack, DigitalOcean,
  Oracle live at 169.254.169.254, ECS task credentials at 169.254.170.2);
* fd00:ec2::254 (AWS's IPv6 metadata), 100.100.100.200 (Alibaba Cloud), 168.63.129.16 (Azure's WireServer);
* those addresses inside IPv6 (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`,
  6to4 `2002::/16`);
* the names `metadata.google.internal`, `metadata.goog`, `metadata`, `instance-data`, `instance-data.ec2.internal`
  (with or without a final dot).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["METADATA_ADDRESSES", "METADATA_NAMES", "AddressRules", "parse_address", "refused_address"]

IP = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_NAMES = frozenset(
    {"metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal"}
)
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(text)
    for text in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "168.63.129.16")
)
_LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _inet_aton(text: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address as `inet_aton` (and so `getaddrinfo`) reads it: 1 to 4 parts, each decimal, octal (`0`)
    or hex (`0x`), the last filling the remaining bytes (`2852039166`, `0xa9.0xfe.43518`, `0251.254.169.254`)."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = []
    for part in parts:
        try:
            if part.lower().startswith("0x"):
                numbers.append(int(part[2:], 16))
            elif len(part) > 1 and part.startswith("0"):
                numbers.append(int(part, 8))
            else:
                numbers.append(int(part, 10) if part.isdigit() else -1)
        except ValueError:
            return None
    if any(n < 0 for n in numbers):
        return None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def parse_address(host: str) -> IP | None:
    """`host` as an IP address (brackets, a zone `%eth0` and inet_aton's spellings allowed), else None (a name)."""
    text = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return _inet_aton(text)


def _embedded(address: IP) -> IP:
    """The IPv4 address an IPv6 one carries (mapped, compatible, NAT64, 6to4), else the address itself."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (int(address) >> 32 == 0 and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def refused_address(address: IP | str) -> str | None:
    """Why the operator never calls `address` on a release's behalf ("a cloud metadata address", "a link-local
    address"), else None. A string that is not an address is None."""
    found = parse_address(address) if isinstance(address, str) else address
    if found is None:
        return None
    for candidate in {found, _embedded(found)}:
        if candidate in METADATA_ADDRESSES:
            return "a cloud metadata address"
        if any(candidate in network for network in _LINK_LOCAL if candidate.version == network.version):
            return "a link-local address"
    return None


def _name(host: str) -> str:
    return host.strip("[]").lower().rstrip(".")


@dataclass(frozen=True, slots=True)
class AddressRules:
    """The rule above, with `explicit` hosts (lower case, no final dot) that are called whatever they are."""

    explicit: frozenset[str] = frozenset()

    @classmethod
    def naming(cls, hosts: Iterable[str]) -> AddressRules:
        return cls(frozenset(_name(host) for host in hosts if host and not host.startswith("*.")))

    def host_refusal(self, host: str) -> str | None:
        """Why a URL with this host (as written) is refused before anything is sent, else None."""
        name = _name(host)
        if name in self.explicit:
            return None
        if name in METADATA_NAMES:
            return f"{host} is a cloud metadata name; {_UNLESS}"
        address = parse_address(name)
        if address is not None and (why := refused_address(address)) is not None:
            spelled = "" if str(address) == name else f" ({address})"
            return f"{host} is {why}{spelled}; {_UNLESS}"
        return None

    def address_refusal(self, host: str, addresses: Iterable[str]) -> str | None:
        """Why the addresses `host` resolved to may not be connected to (the first refused one), else None."""
        if _name(host) in self.explicit:
            return None
        for address in addresses:
            if (why := refused_address(address)) is not None:
                return f"{host} resolves to {address}, {why}; {_UNLESS}"
        return None


_UNLESS = "the operator does not call it unless an allowlist entry names this host (probeUrlAllowlist)"
