"""Identifier preflight: syntax, TLD delegated now, PSL, internal names (seed 002)."""

from __future__ import annotations

import string
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.lint.tld import TldData, TldPeriod
from certkeeper.validation.errors import RejectedIdentifier
from certkeeper.validation.preflight import check_identifier

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def ok(name: str, wildcard: bool = False) -> str:
    return check_identifier(name, wildcard=wildcard, at=NOW)


def rejected(name: str, wildcard: bool = False) -> str:
    with pytest.raises(RejectedIdentifier) as info:
        check_identifier(name, wildcard=wildcard, at=NOW)
    return str(info.value)


def test_accepts_and_normalises() -> None:
    assert ok("WWW.Example.COM") == "www.example.com"
    assert ok("*.example.com", wildcard=True) == "example.com"
    assert ok("example.com", wildcard=True) == "example.com"  # authorization form
    assert ok("xn--bcher-kva.example.com") == "xn--bcher-kva.example.com"
    # one registrant's name below a private suffix, and the suffix's owner's own name
    assert ok("*.project.github.io", wildcard=True) == "project.github.io"
    assert ok("github.io") == "github.io"


@pytest.mark.parametrize(
    ("name", "wildcard", "needle"),
    [
        ("host.ap.gbl", False, "never been delegated"),  # seed 002
        ("printer.local", False, "never been delegated"),
        ("co.uk", False, "public suffix"),
        ("*.co.uk", True, "public suffix"),
        # BR 3.2.2.6 over both PSL sections (br.WILDCARD_PSL_SECTIONS): private entries too
        ("*.github.io", True, "public suffix github.io"),
        ("*.s3.amazonaws.com", True, "public suffix s3.amazonaws.com"),
        ("*.example.com", False, "must be flagged"),
        ("a.*.example.com", True, "leftmost"),
        ("foo*.example.com", False, "leftmost"),
        ("example.com.", False, "ends with a dot"),
        ("a..example.com", False, "empty label"),
        ("-a.example.com", False, "starts or ends"),
        ("under_score.example.com", False, "underscore"),
        ("ab--cd.example.com", False, "positions 3-4"),
        ("xn--zz.example.com", False, "A-label"),
        ("bücher.example", False, "not ASCII"),
        ("192.0.2.1", False, "IP address"),
        ("2001:db8::1", False, "IP address"),
        ("localhost", False, "single label"),
        ("x.onion", False, "onion"),
        ("", False, "empty"),
        ("a" * 64 + ".example.com", False, "label of 64"),
        (".".join(["a" * 63] * 4) + ".com", False, "characters"),
    ],
)
def test_rejections(name: str, wildcard: bool, needle: str) -> None:
    assert needle in rejected(name, wildcard)


def test_tld_checked_at_the_moment_of_validation() -> None:
    # A TLD that existed once: names under it validate only while it is delegated.
    data = TldData({"com": TldPeriod(date(2014, 1, 1), date(2020, 1, 1))}, "test")
    in_2019 = datetime(2019, 6, 1, tzinfo=UTC)
    assert check_identifier("a.example.com", wildcard=False, at=in_2019, tld=data)
    with pytest.raises(RejectedIdentifier, match="removed from the root zone"):
        check_identifier("a.example.com", wildcard=False, at=NOW, tld=data)
    with pytest.raises(RejectedIdentifier, match="not delegated until"):
        check_identifier(
            "a.example.com", wildcard=False, at=datetime(2013, 1, 1, tzinfo=UTC), tld=data
        )


LDH = string.ascii_lowercase + string.digits
label = st.builds(
    lambda first, mid, last: first + mid + last,
    st.sampled_from(LDH),
    st.text(LDH + "-", max_size=20),
    st.sampled_from(LDH),
).filter(lambda s: s[2:4] != "--")


@given(st.lists(label, min_size=1, max_size=4))
def test_well_formed_names_under_com_pass(labels: list[str]) -> None:
    name = ".".join([*labels, "example", "com"])
    assert ok(name) == name
    assert ok(f"*.{name}", wildcard=True) == name


@given(st.text(max_size=80), st.booleans())
def test_never_anything_but_rejected_identifier(text: str, wildcard: bool) -> None:
    try:
        result = check_identifier(text, wildcard=wildcard, at=NOW)
    except RejectedIdentifier as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert result == result.lower() and not result.startswith("*")
        assert all(c in LDH + "-." for c in result)


@given(label, st.sampled_from("_ !/@:*\x00é"))
def test_bad_characters_rejected(base: str, bad: str) -> None:
    rejected(f"{base[:1]}{bad}{base[1:]}.example.com")
