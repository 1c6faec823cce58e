"""The [validation] table: every setting the VA adds is checked strictly at load."""

from __future__ import annotations

from typing import Any

import pytest

from certkeeper.settings.validation import ValidationSettings, parse_validation, resolver_address
from certkeeper.tomlcheck import TomlProblem


def parse(**table: Any) -> ValidationSettings:
    return parse_validation(table, "certkeeper.toml")


def test_defaults_are_production_safe() -> None:
    s = parse()
    assert s.mpic_required and not s.private_addresses
    assert s.reuse_days is None and s.caa_identities == () and s.redirect_ports == ()


def test_values() -> None:
    s = parse(
        caa_identities=["CA.Example", "ca.example", "other.example"],
        reuse_days=30,
        private_addresses=True,
        redirect_ports=[5002],
        resolver="[::1]:5353",
    )
    assert s.caa_identities == ("ca.example", "other.example")
    assert (s.reuse_days, s.private_addresses, s.redirect_ports) == (30, True, (5002,))
    assert resolver_address(s.resolver) == ("::1", 5353)


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ({"caa_identities": ["ca example"]}, "issuer domain name"),
        ({"caa_identities": ["-ca.example"]}, "issuer domain name"),
        ({"caa_identities": [3]}, "issuer domain name"),
        ({"reuse_days": 399}, "0..398"),
        ({"reuse_days": -1}, "0..398"),
        ({"reuse_days": True}, "reuse_days"),
        ({"redirect_ports": [0]}, "not a TCP port"),
        ({"redirect_ports": ["80"]}, "not a TCP port"),
        ({"private_addresses": "yes"}, "private_addresses"),
        ({"http_port": True}, "http_port"),
        ({"resolver": "localhost"}, "host:port"),
        ({"reuse_dayz": 3}, "did you mean 'reuse_days'"),
    ],
)
def test_bad_values_named(table: dict[str, Any], needle: str) -> None:
    with pytest.raises(TomlProblem) as info:
        parse(**table)
    assert needle in str(info.value) and "[validation]" in str(info.value)
