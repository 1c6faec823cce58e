"""The CRL monitor's comparisons, on CRLs signed by a real key: every rule, both ways."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.audit.crl_monitor import (
    FetchFailure,
    SetRound,
    check_single,
    compare_pair,
    compare_sets,
    judge_removals,
    removals,
)
from certkeeper.audit.crl_snapshots import CrlSnapshot, Entry, snapshot
from certkeeper.errors import InputError
from certkeeper.x509.crl import KEY_COMPROMISE, SUPERSEDED, CrlIssuer, build_crl
from certkeeper.x509.signer import KEY_SPECS, KeySigner
from factories import key

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BASE = "http://pki.example.test/crl/ca"
SIGNER = KeySigner(key("ecdsa-p256"), KEY_SPECS["ecdsa-p256"])  # type: ignore[arg-type]


def _issuer(cn: str = "Monitor Test CA") -> CrlIssuer:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    return CrlIssuer(name.public_bytes(), b"\x01" * 20)


ISSUER = _issuer()


def crl(
    entries: dict[int, tuple[datetime, int | None]],
    number: int,
    this_update: datetime,
    *,
    shard: int = 0,
    days: int = 7,
    issuer: CrlIssuer = ISSUER,
    idp: str | None = "default",
) -> CrlSnapshot:
    uri = f"{BASE}/{shard}.crl" if idp == "default" else idp
    der = build_crl(
        issuer,
        [(s, t, r) for s, (t, r) in sorted(entries.items())],
        this_update,
        this_update + timedelta(days=days),
        number,
        SIGNER,
        idp_uri=uri,
    )
    return snapshot(der, uri or "crl")


def codes(findings: list) -> list[str]:  # type: ignore[type-arg]
    return sorted(f.code for f in findings)


REVOKED = T0 - timedelta(days=1)


# -- reading CRLs ------------------------------------------------------------------------


@given(
    st.dictionaries(
        st.integers(1, 2**159 - 1),
        st.tuples(
            st.datetimes(datetime(1990, 1, 1), datetime(2100, 1, 1)).map(
                lambda d: d.replace(microsecond=0, tzinfo=UTC)
            ),
            st.sampled_from([None, 1, 3, 4, 5, 9]),
        ),
        max_size=30,
    )
)
def test_snapshot_reads_back_every_entry_it_was_built_from(
    entries: dict[int, tuple[datetime, int | None]],
) -> None:
    snap = crl(entries, 7, T0)
    assert snap.entries == {format(s, "x"): Entry(t, r) for s, (t, r) in entries.items()}
    assert snap.number == 7 and snap.this_update == T0
    assert snap.idp_uris == (f"{BASE}/0.crl",)


def test_pem_and_der_give_the_same_snapshot_and_garbage_is_refused() -> None:
    snap = crl({5: (REVOKED, SUPERSEDED)}, 1, T0)
    pem = b"-----BEGIN X509 CRL-----\n" + base64.encodebytes(snap.der) + b"-----END X509 CRL-----\n"
    again = snapshot(pem, "pem")
    assert again.entries == snap.entries and again.sha256 == snap.sha256
    with pytest.raises(InputError, match="not a readable CRL"):
        snapshot(b"\x30\x03\x02\x01\x01", "junk.crl")
    with pytest.raises(InputError, match="empty file"):
        snapshot(b"", "empty.crl")
    with pytest.raises(InputError, match="no X509 CRL block"):
        snapshot(b"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n", "c.pem")


# -- one scope over time -----------------------------------------------------------------


def test_a_proper_successor_is_clean() -> None:
    old = crl({5: (REVOKED, SUPERSEDED)}, 10, T0)
    new = crl({5: (REVOKED, SUPERSEDED), 6: (T0, None)}, 11, T0 + timedelta(hours=6))
    result = compare_pair(old, new)
    assert result.findings == [] and result.removed == {}
    assert check_single(new, T0 + timedelta(days=1)) == []


def test_numbers_and_times_must_grow() -> None:
    old = crl({}, 10, T0)
    assert codes(compare_pair(old, crl({}, 9, T0 + timedelta(hours=1))).findings) == [
        "crl-number-decreased"
    ]
    assert codes(compare_pair(old, crl({7: (T0, None)}, 10, T0 + timedelta(hours=1))).findings) == [
        "crl-number-reused"
    ]
    assert codes(compare_pair(old, crl({}, 11, T0)).findings) == ["this-update-not-increasing"]
    # The same CRL fetched twice is not a finding.
    assert compare_pair(old, crl({}, 10, T0)).findings == []


def test_scope_changes_stop_the_comparison() -> None:
    old = crl({5: (REVOKED, None)}, 10, T0)
    moved = crl({}, 11, T0 + timedelta(hours=1), idp=f"{BASE}/1.crl")
    result = compare_pair(old, moved)
    assert codes(result.findings) == ["idp-changed"] and not result.comparable
    assert result.removed == {}
    other = crl({}, 11, T0 + timedelta(hours=1), issuer=_issuer("Another CA"))
    assert "issuer-changed" in codes(compare_pair(old, other).findings)


def test_only_key_compromise_may_replace_a_reason_or_backdate() -> None:
    old = crl({5: (REVOKED, SUPERSEDED), 6: (REVOKED, KEY_COMPROMISE)}, 1, T0)
    later = T0 + timedelta(hours=1)
    to_kc = crl({5: (REVOKED - timedelta(days=3), KEY_COMPROMISE), 6: (REVOKED, 1)}, 2, later)
    assert compare_pair(old, to_kc).findings == []
    back = crl({5: (REVOKED, SUPERSEDED), 6: (REVOKED, SUPERSEDED)}, 2, later)
    (finding,) = compare_pair(old, back).findings
    assert finding.code == "reason-changed" and finding.serial == "6"
    assert "keyCompromise to superseded" in finding.message
    redated = crl({5: (REVOKED + timedelta(hours=2), SUPERSEDED), 6: (REVOKED, 1)}, 2, later)
    assert codes(compare_pair(old, redated).findings) == ["revocation-date-changed"]
    # unspecified written as reasonCode 0 or left out is the same statement
    a = crl({5: (REVOKED, None)}, 1, T0)
    assert compare_pair(a, crl({5: (REVOKED, 0)}, 2, later)).findings == []


def test_next_update_rules_and_staleness() -> None:
    assert codes(check_single(crl({}, 1, T0, days=11))) == ["next-update-too-far"]
    assert codes(check_single(crl({}, 1, T0), T0 + timedelta(days=8))) == ["stale"]


def test_removals_are_judged_by_the_certificates_not_after() -> None:
    old = crl({5: (REVOKED, SUPERSEDED), 6: (REVOKED, None), 7: (REVOKED, None)}, 1, T0)
    new = crl({}, 2, T0 + timedelta(days=1))
    pair = compare_pair(old, new)
    assert sorted(pair.removed) == ["5", "6", "7"]
    found = removals(old, new, pair.removed)
    expiry = {
        "5": T0 + timedelta(days=30),  # still valid: early removal
        "6": T0 - timedelta(days=2),  # expired and listed on the CRL of T0, after expiry
        "7": T0 + timedelta(hours=12),  # expired between the CRLs: never listed after expiry
    }
    by_serial = {f.serial: f for f in judge_removals(found, expiry)}
    assert by_serial["5"].code == "early-removal" and by_serial["5"].severity == "error"
    assert "6" not in by_serial
    assert by_serial["7"].code == "removed-without-post-expiry-crl"
    assert by_serial["7"].severity == "warning"
    blind = judge_removals(found, None)
    assert {f.code for f in blind} == {"removal-not-verifiable"}
    assert all("--home or --certs" in f.message for f in blind)


# -- shard sets ---------------------------------------------------------------------------


def _round(*shards: CrlSnapshot, listed: list[str] | None = None) -> SetRound:
    urls = listed if listed is not None else [s.source for s in shards]
    return SetRound(urls, {s.source: s for s in shards})


def test_set_completeness() -> None:
    a = crl({}, 1, T0, shard=0)
    b = crl({}, 1, T0, shard=1)
    assert compare_sets({}, _round(a, b)).findings == []
    dup = _round(a, b, listed=[a.source, b.source, a.source])
    assert codes(compare_sets({}, dup).findings) == ["duplicate-url"]
    wrong = crl({}, 1, T0, shard=1)
    mismatched = SetRound([a.source, f"{BASE}/2.crl"], {a.source: a, f"{BASE}/2.crl": wrong})
    assert codes(compare_sets({}, mismatched).findings) == ["idp-url-mismatch"]
    failing = SetRound([a.source, b.source], {a.source: a}, [FetchFailure(b.source, "HTTP 404")])
    assert codes(compare_sets({}, failing).findings) == ["shard-unavailable"]
    no_idp = crl({}, 1, T0, idp=None)
    bare = SetRound(["http://x.test/a.crl"], {"http://x.test/a.crl": no_idp})
    assert codes(compare_sets({}, bare).findings) == ["idp-missing"]
    other = crl({}, 1, T0, shard=1, issuer=_issuer("Other"))
    assert codes(compare_sets({}, _round(a, other)).findings) == ["mixed-issuers"]


def test_an_entry_may_not_vanish_from_every_shard_before_expiry() -> None:
    before = {
        f"{BASE}/0.crl": crl({5: (REVOKED, None), 8: (REVOKED, None)}, 1, T0, shard=0),
        f"{BASE}/1.crl": crl({9: (REVOKED, None)}, 1, T0, shard=1),
    }
    later = T0 + timedelta(days=1)
    # serial 5 moved to shard 1 (a warning), serial 8 is gone from every shard.
    now = _round(
        crl({}, 2, later, shard=0),
        crl({9: (REVOKED, None), 5: (REVOKED, None)}, 2, later, shard=1),
    )
    result = compare_sets(before, now)
    assert codes(result.findings) == ["entry-moved"]
    assert [r.serial for r in result.removed] == ["8"]
    judged = judge_removals(result.removed, {"8": T0 + timedelta(days=60)})
    assert codes(judged) == ["early-removal"]
    assert judged[0].scope == f"{BASE}/0.crl"


def test_a_shard_dropped_from_the_array_must_hand_its_entries_on() -> None:
    before = {
        f"{BASE}/0.crl": crl({}, 1, T0, shard=0),
        f"{BASE}/1.crl": crl({9: (REVOKED, None)}, 1, T0, shard=1),
    }
    now = _round(crl({}, 2, T0 + timedelta(days=1), shard=0))
    result = compare_sets(before, now)
    assert codes(result.findings) == ["shard-dropped"]
    assert [r.serial for r in result.removed] == ["9"]


def test_an_unfetchable_shard_is_not_judged_for_removals() -> None:
    before = {f"{BASE}/0.crl": crl({9: (REVOKED, None)}, 1, T0, shard=0)}
    now = SetRound([f"{BASE}/0.crl"], {}, [FetchFailure(f"{BASE}/0.crl", "timed out")])
    result = compare_sets(before, now)
    assert codes(result.findings) == ["shard-unavailable"] and result.removed == []
