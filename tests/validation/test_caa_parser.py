"""The RFC 8659 4.2 issue-value grammar and the CAA decision, property-tested."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.validation.caa import (
    CaaSyntaxError,
    IssueValue,
    Property,
    decide,
    parse_issue_value,
    parse_validation_methods,
)

ALNUM = string.ascii_letters + string.digits
ldh_label = st.builds(
    lambda a, mid, b: a + mid + b if mid or b else a,
    st.sampled_from(ALNUM),
    st.text(ALNUM + "-", max_size=10).filter(lambda s: not s.endswith("-")),
    st.text(ALNUM, max_size=1),
)
domain = st.lists(ldh_label, min_size=1, max_size=4).map(".".join)
param_value = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters=";"), max_size=30
)
params = st.lists(st.tuples(ldh_label, param_value), max_size=4)
wsp = st.text(" \t", max_size=2)


def render(issuer: str | None, ps: list[tuple[str, str]], w: list[str]) -> str:
    out = w[0] + (issuer or "") + w[1]
    if ps or issuer is None:
        out += ";" + w[2]
        out += (w[3] + ";" + w[2]).join(f"{t}{w[3]}={w[2]}{v}" for t, v in ps)
        out += w[3]
    return out


@given(st.one_of(st.none(), domain), params, st.lists(wsp, min_size=4, max_size=4))
def test_rendered_values_parse_back(
    issuer: str | None, ps: list[tuple[str, str]], w: list[str]
) -> None:
    parsed = parse_issue_value(render(issuer, ps, w))
    assert parsed == IssueValue(
        None if issuer is None else issuer.lower(), tuple((t.lower(), v) for t, v in ps)
    )


@given(st.text(max_size=60))
def test_parser_total(value: str) -> None:
    try:
        parsed = parse_issue_value(value)
    except CaaSyntaxError:
        return
    assert parsed.issuer is None or parsed.issuer == parsed.issuer.lower()


@pytest.mark.parametrize(
    "value",
    [
        "ca.example garbage",
        "-ca.example",
        "ca..example",
        "ca.example; accounturi",
        "ca.example; a=b;",
        "ca.example; =b",
        "ca.example; a=b c",
        "ca.example; a-=b",
    ],
)
def test_malformed_values(value: str) -> None:
    with pytest.raises(CaaSyntaxError):
        parse_issue_value(value)


def test_examples() -> None:
    assert parse_issue_value(";") == IssueValue(None, ())
    assert parse_issue_value("") == IssueValue(None, ())
    assert parse_issue_value("ca.example; accounturi=https://ca.example/acct/1") == IssueValue(
        "ca.example", (("accounturi", "https://ca.example/acct/1"),)
    )
    assert parse_validation_methods("dns-01,http-01") == ("dns-01", "http-01")
    with pytest.raises(CaaSyntaxError):
        parse_validation_methods("dns-01,,http-01")


OURS = ["ca.example"]


def d(*props: tuple[int, str, str], wildcard: bool = False, method: str = "http-01") -> bool:
    rrset = [Property(f, t, v) for f, t, v in props]
    return decide(rrset, wildcard=wildcard, identities=OURS, account_uri="acct:1", method=method)[0]


def test_decision_table() -> None:
    assert d()  # empty relevant RRset cannot happen, but means no restriction
    assert d((0, "issue", "ca.example"))
    assert not d((0, "issue", "other.example"))
    assert not d((128, "future", "x"), (0, "issue", "ca.example"))
    assert d((128, "iodef", "mailto:a@b.example"), (0, "issue", "ca.example"))
    assert d((0, "ISSUE", "CA.EXAMPLE"))  # tags and names are case-insensitive
    assert d((0, "issuewild", ";"))  # issuewild alone does not restrict non-wildcards
    assert not d((0, "issuewild", ";"), wildcard=True)
    assert d((0, "issue", ";"), (0, "issuewild", "ca.example"), wildcard=True)
    assert d((0, "issue", "ca.example; accounturi=acct:1"))
    assert not d((0, "issue", "ca.example; accounturi=acct:2"))
    assert d((0, "issue", "ca.example; validationmethods=http-01"))
    assert not d((0, "issue", "ca.example; validationmethods=dns-01"))
    assert not d((0, "issue", "ca.example; validationmethods=dns-01,,x"))


@given(
    st.lists(
        st.tuples(
            st.sampled_from([0, 128]),
            st.sampled_from(["issue", "issuewild", "iodef", "tbs"]),
            st.sampled_from(["ca.example", "other.example", ";", "ca.example; accounturi=acct:2"]),
        ),
        max_size=5,
    ),
    st.booleans(),
)
def test_critical_unknown_always_forbids(props: list[tuple[int, str, str]], wildcard: bool) -> None:
    rrset = [*props, (128, "tbs", "x")]
    assert not d(*rrset, wildcard=wildcard)
