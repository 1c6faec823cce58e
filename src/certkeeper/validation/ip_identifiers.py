"""IP address identifiers (RFC 8738) and the BR rules on them.

Names travel through validation, ACME and issuance as text; an identifier that parses as
an IP address is an IP identifier, kept in one canonical text form (dotted decimal, or
RFC 5952 for IPv6: RFC 8738 3), so a stored validation, an order and a CSR's iPAddress
compare equal. A DNS name can never parse as one: its last label is never all digits.

BR 7.1.2.7.12: an iPAddress in a Subscriber Certificate is validated under BR 3.2.2.5 and
is never a Reserved IP Address (the IANA special-purpose registries); `private_addresses`
(a test setting) lets tests use loopback. CAA (RFC 8659) names domains, not addresses.
"""

from __future__ import annotations

import ipaddress

from certkeeper.lint.names import ip_problem

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip(value: str) -> IpAddress | None:
    """The address `value` names, else None (then it is a DNS name, or nothing)."""
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def is_ip(value: str) -> bool:
    return parse_ip(value) is not None


def canonical(ip: IpAddress) -> str:
    """RFC 8738 3 / RFC 5952 4: the one text form identifiers are stored and compared in."""
    return str(ip)


def reverse_name(value: str) -> str:
    """RFC 8738 6: the in-addr.arpa / ip6.arpa name a tls-alpn-01 check sends as SNI."""
    ip = parse_ip(value)
    if ip is None:
        raise ValueError(f"{value!r} is not an IP address")
    return ip.reverse_pointer


def reserved_problem(ip: IpAddress, *, private_allowed: bool) -> str | None:
    """Why `ip` may not be in a publicly-trusted certificate (BR 7.1.2.7.12), or None."""
    if private_allowed and (ip.is_loopback or ip.is_private):
        return None
    return ip_problem(ip.packed)
