"""Each filter field, the suffix edge cases, distinct counting and precertificates apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete
from store_helpers import T0, Builder, issuer_record

from certkeeper.certificate_filter import CertificateFilter, normalize_serial, normalize_sha256
from certkeeper.errors import InputError, NotFound
from certkeeper.store.inventory import Inventory
from certkeeper.store.queries import (
    certificate_conditions,
    precertificate_conditions,
    reverse_name,
)
from certkeeper.store.tables import certificate_names, certificates, lint_findings
from certkeeper.store.tables import precertificates as precert_table
from certkeeper.store.tables import serials as serial_table


def serials_of(inv: Inventory, flt: CertificateFilter) -> set[str]:
    return {c.serial for c in inv.list_certificates(flt)}


class TestEachFilter:
    @pytest.fixture
    def world(self, inv: Inventory, build: Builder) -> dict[str, Any]:
        other = inv.add_issuer(issuer_record("tls-rsa-1"))
        assert other.id is not None
        inv.ensure_subscriber("acct-1", T0)
        w: dict[str, Any] = {}
        w["base"] = build.issue()
        w["rsa"] = build.issue(issuer_id=other.id, key_type="rsa-2048", names=("rsa.example.org",))
        w["v2"] = build.issue(profile_version=2, cps_version="1.1", names=("shop.example.net",))
        w["early"] = build.issue(
            not_before=T0 - timedelta(days=30),
            not_after=T0 + timedelta(days=10),
            names=("badexample.com",),
        )
        w["sub"] = build.issue(subscriber_id="acct-1", names=("deep.www.example.com",))
        w["other_profile"] = build.issue(profile_id="tls-server-rsa", names=("x.example.com",))
        return w

    def check(
        self, inv: Inventory, world: dict[str, Any], flt: CertificateFilter, *keys: str
    ) -> None:
        assert serials_of(inv, flt) == {world[k].serial for k in keys}
        assert inv.count_certificates(flt) == len(keys)

    def test_empty_filter_matches_all(self, inv: Inventory, world: dict[str, Any]) -> None:
        self.check(inv, world, CertificateFilter(), *world)

    def test_issuer(self, inv: Inventory, world: dict[str, Any]) -> None:
        self.check(inv, world, CertificateFilter(issuer="tls-rsa-1"), "rsa")

    def test_unknown_issuer(self, inv: Inventory, world: dict[str, Any]) -> None:
        with pytest.raises(NotFound, match="no issuer named 'nope'"):
            inv.list_certificates(CertificateFilter(issuer="nope"))
        with pytest.raises(NotFound):
            inv.count_certificates(CertificateFilter(issuer="nope"))

    def test_profile(self, inv: Inventory, world: dict[str, Any]) -> None:
        self.check(inv, world, CertificateFilter(profile_id="tls-server-rsa"), "other_profile")
        everything_but = set(world) - {"other_profile", "v2"}
        self.check(
            inv,
            world,
            CertificateFilter(profile_id="tls-server-ecdsa", profile_version=1),
            *everything_but,
        )
        self.check(
            inv, world, CertificateFilter(profile_id="tls-server-ecdsa", profile_version=2), "v2"
        )

    def test_cps_version(self, inv: Inventory, world: dict[str, Any]) -> None:
        self.check(inv, world, CertificateFilter(cps_version="1.1"), "v2")

    def test_issuance_window_is_half_open(self, inv: Inventory, world: dict[str, Any]) -> None:
        self.check(inv, world, CertificateFilter(issued_before=T0), "early")
        rest = set(world) - {"early"}
        self.check(inv, world, CertificateFilter(issued_after=T0), *rest)
        self.check(
            inv,
            world,
            CertificateFilter(
                issued_after=T0 - timedelta(days=31), issued_before=T0 - timedelta(days=29)
            ),
            "early",
        )

    def test_expiring_after(self, inv: Inventory, world: dict[str, Any]) -> None:
        rest = set(world) - {"early"}
        self.check(inv, world, CertificateFilter(expiring_after=T0 + timedelta(days=10)), *rest)
        self.check(inv, world, CertificateFilter(expiring_after=T0 + timedelta(days=9)), *world)

    def test_key_type(self, inv: Inventory, world: dict[str, Any]) -> None:
        self.check(inv, world, CertificateFilter(key_type="rsa-2048"), "rsa")

    def test_domain_suffix(self, inv: Inventory, world: dict[str, Any]) -> None:
        # base has example.com + www.example.com; sub has deep.www.example.com;
        # other_profile has x.example.com; early has badexample.com (must not match).
        flt = CertificateFilter(domain_suffix="example.com")
        self.check(inv, world, flt, "base", "sub", "other_profile")
        self.check(inv, world, CertificateFilter(domain_suffix="www.example.com"), "base", "sub")
        self.check(inv, world, CertificateFilter(domain_suffix="badexample.com"), "early")
        self.check(
            inv,
            world,
            CertificateFilter(domain_suffix="com"),
            "base",
            "sub",
            "other_profile",
            "early",
        )

    def test_serial_and_sha256(self, inv: Inventory, world: dict[str, Any]) -> None:
        rsa = world["rsa"]
        self.check(inv, world, CertificateFilter(serial=rsa.serial.upper()), "rsa")
        self.check(inv, world, CertificateFilter(serial="00:" + rsa.serial), "rsa")
        self.check(inv, world, CertificateFilter(sha256=rsa.sha256.upper()), "rsa")

    def test_subscriber(self, inv: Inventory, world: dict[str, Any]) -> None:
        self.check(inv, world, CertificateFilter(subscriber_id="acct-1"), "sub")

    def test_combined(self, inv: Inventory, world: dict[str, Any]) -> None:
        flt = CertificateFilter(
            domain_suffix="example.com", subscriber_id="acct-1", issued_after=T0
        )
        self.check(inv, world, flt, "sub")
        self.check(inv, world, CertificateFilter(key_type="rsa-2048", cps_version="1.1"))

    def test_limit_and_order(self, inv: Inventory, world: dict[str, Any]) -> None:
        listed = list(inv.list_certificates(CertificateFilter(), limit=3))
        assert [c.serial for c in listed] == [world[k].serial for k in ("base", "rsa", "v2")]
        assert list(inv.list_certificates(CertificateFilter(), limit=0)) == []


class TestSuffixEdgeCases:
    @pytest.mark.parametrize(
        ("name", "suffix", "match"),
        [
            ("example.com", "example.com", True),
            ("www.example.com", "example.com", True),
            ("a.b.example.com", "example.com", True),
            ("*.example.com", "example.com", True),
            ("badexample.com", "example.com", False),
            ("example.com.evil", "example.com", False),
            ("example.co", "example.com", False),
            ("com", "example.com", False),
            ("WWW.Example.COM", "example.com", True),
            ("www.example.com", "EXAMPLE.com.", True),
            ("a_b.example.com", "a%b.example.com", False),
            ("axb.example.com", "a_b.example.com", False),
            ("xn--bcher-kva.example", "bücher.example", True),
        ],
    )
    def test_match(
        self, inv: Inventory, build: Builder, name: str, suffix: str, match: bool
    ) -> None:
        rec = build.issue(names=(name,))
        assert serials_of(inv, CertificateFilter(domain_suffix=suffix)) == (
            {rec.serial} if match else set()
        )

    def test_many_names_count_once(self, inv: Inventory, build: Builder) -> None:
        build.issue(names=tuple(f"h{i}.example.com" for i in range(20)))
        flt = CertificateFilter(domain_suffix="example.com")
        assert inv.count_certificates(flt) == 1
        assert len(list(inv.list_certificates(flt))) == 1


LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_%", min_size=1, max_size=6)
NAME = st.lists(LABEL, min_size=1, max_size=4).map(".".join)


@given(name=NAME)
def test_reverse_name_is_an_involution(name: str) -> None:
    assert reverse_name(reverse_name(name)) == name
    assert reverse_name(name.upper() + ".") == reverse_name(name)


def model_match(name: str, suffix: str) -> bool:
    return name == suffix or name.endswith("." + suffix)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    names=st.lists(NAME, min_size=1, max_size=6, unique=True), suffix=NAME, pick=st.integers(0, 5)
)
def test_suffix_query_agrees_with_a_model(
    inv: Inventory, build: Builder, names: list[str], suffix: str, pick: int
) -> None:
    """SQL suffix matching equals the plain string definition, LIKE metacharacters and all."""
    # Half the time make the suffix a real suffix of one of the names.
    if pick % 2 == 0:
        target = names[pick % len(names)]
        labels = target.split(".")
        suffix = ".".join(labels[pick % len(labels) :]) or suffix
    with inv.engine.begin() as conn:
        for table in (certificate_names, lint_findings, certificates, precert_table, serial_table):
            conn.execute(delete(table))
    expected = set()
    for name in names:
        rec = build.issue(precert=False, names=(name,))
        if model_match(name, suffix):
            expected.add(rec.serial)
    assert serials_of(inv, CertificateFilter(domain_suffix=suffix)) == expected


class TestPrecertificatesApart:
    def test_counts_and_listing(self, inv: Inventory, build: Builder) -> None:
        done = build.issue()
        only_pre = build.assign()
        inv.store_precertificate(build.precert(only_pre), [])
        bare = build.issue(precert=False)
        everything = CertificateFilter()
        assert inv.count_certificates(everything) == 2
        assert {c.serial for c in inv.list_certificates(everything)} == {done.serial, bare.serial}
        pres = list(inv.list_precertificates(everything))
        assert {p.serial for p in pres} == {done.serial, only_pre}
        assert inv.count_precertificates(everything) == 2
        orphans = list(inv.list_precertificates(everything, without_final=True))
        assert [p.serial for p in orphans] == [only_pre]
        assert inv.count_precertificates(everything, without_final=True) == 1

    def test_filters_apply_to_precertificates(self, inv: Inventory, build: Builder) -> None:
        rsa = build.issue(key_type="rsa-2048", profile_version=2)
        build.issue()
        only_pre = build.assign(profile_version=2)
        inv.store_precertificate(build.precert(only_pre), [])

        def pre(**kw: Any) -> set[str]:
            return {p.serial for p in inv.list_precertificates(CertificateFilter(**kw))}

        assert pre(key_type="rsa-2048") == {rsa.serial}
        assert pre(profile_id="tls-server-ecdsa", profile_version=2) == {rsa.serial, only_pre}
        assert pre(domain_suffix="example.com") == {
            c.serial for c in inv.list_certificates(CertificateFilter())
        }
        assert pre(sha256=inv.precertificate(only_pre).sha256) == {only_pre}
        assert pre(serial=only_pre) == {only_pre}
        assert pre(issuer="tls-ecdsa-1") == {rsa.serial, only_pre} | {
            c.serial for c in inv.list_certificates(CertificateFilter(key_type="ecdsa-p256"))
        }


class TestFilterValue:
    def test_round_trip(self) -> None:
        flt = CertificateFilter(
            issuer="tls-ecdsa-1",
            profile_id="p",
            profile_version=3,
            cps_version="1.2",
            issued_after=datetime(2025, 1, 1, tzinfo=UTC),
            issued_before=datetime(2025, 2, 1, 1, 0, tzinfo=UTC),
            expiring_after=datetime(2025, 3, 1, tzinfo=UTC),
            key_type="rsa-2048",
            domain_suffix="Example.COM.",
            serial="00AB",
            sha256="AA" * 32,
            subscriber_id="acct",
        )
        data = flt.to_dict()
        assert data["domain_suffix"] == "example.com"
        assert data["serial"] == "ab"
        assert data["issued_after"] == "2025-01-01T00:00:00+00:00"
        assert CertificateFilter.from_dict(data) == flt
        assert CertificateFilter().to_dict() == {}
        assert CertificateFilter.from_dict({}) == CertificateFilter()

    def test_compiles_without_a_database(self) -> None:
        flt = CertificateFilter(
            domain_suffix="example.com", issuer="x", profile_id="p", key_type="k"
        )
        assert len(certificate_conditions(flt)) == 4
        assert len(precertificate_conditions(flt)) == 3  # issuer, profile, final-only group
        sql = " ".join(str(c.compile()) for c in certificate_conditions(flt))
        assert "certificate_names" in sql

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            ({"colour": "red"}, "unknown certificate filter field"),
            ({"issued_after": "yesterday"}, "invalid ISO 8601"),
            ({"issued_after": "2025-01-01T00:00:00"}, "no time zone"),
            ({"profile_id": "p", "profile_version": "2"}, "expected an integer"),
            ({"profile_version": 2}, "needs a profile id"),
            ({"serial": "xyz"}, "invalid serial"),
            ({"sha256": "abc"}, "invalid SHA-256"),
            ({"domain_suffix": "a..b"}, "invalid domain"),
            ({"key_type": 5}, "expected a string"),
        ],
    )
    def test_bad_values(self, data: dict[str, Any], message: str) -> None:
        with pytest.raises(InputError, match=message):
            CertificateFilter.from_dict(data)

    @given(st.integers(min_value=1, max_value=2**159 - 1))
    def test_serial_normalisation(self, value: int) -> None:
        canonical = f"{value:x}"
        padded = f"{value:042X}"
        colons = ":".join(padded[i : i + 2] for i in range(0, len(padded), 2))
        assert normalize_serial(padded) == canonical
        assert normalize_serial(colons) == canonical
        assert normalize_serial("0x" + canonical) == canonical

    def test_sha256_normalisation(self) -> None:
        assert normalize_sha256(":".join(["AB"] * 32)) == "ab" * 32
        with pytest.raises(InputError):
            normalize_sha256("ab" * 31)
