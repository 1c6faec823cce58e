"""Inventory round trips, serial life cycle and transactions, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from store_helpers import T0, Builder, issuer_record, sha

from certkeeper.errors import CertkeeperError, NotFound
from certkeeper.store.inventory import Conflict, Inventory, SerialCollision
from certkeeper.store.records import FindingRecord, IssuerRecord
from certkeeper.store.tables import (
    certificate_names,
    certificates,
    lint_findings,
    precertificates,
    profile_versions,
    serials,
)

FINDING = FindingRecord(
    linter="certkeeper",
    lint_id="w_example_waived",
    severity="warn",
    location="extensions.subjectAltName",
    message="example finding",
    waived=True,
    waiver_justification="ticket 12",
    waiver_expires=T0 + timedelta(days=30),
)


def count(inv: Inventory, table: object) -> int:
    with inv.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


class TestIssuers:
    def test_round_trip(self, inv: Inventory) -> None:
        root = inv.add_issuer(issuer_record("root-1", role="root"))
        assert root.id is not None
        sub = inv.add_issuer(issuer_record("tls-ecdsa-1", parent_id=root.id))
        assert inv.issuer(root.id) == root
        assert inv.issuer_by_name("tls-ecdsa-1") == sub
        assert inv.issuers() == [root, sub]
        assert inv.issuers(role="root") == [root]
        assert sub.not_before.tzinfo is not None

    def test_unknown_names_the_problem(self, inv: Inventory) -> None:
        inv.add_issuer(issuer_record("tls-ecdsa-1"))
        with pytest.raises(NotFound, match=r"no issuer named 'nope'.*tls-ecdsa-1"):
            inv.issuer_by_name("nope")
        with pytest.raises(NotFound, match="no issuer with id 999"):
            inv.issuer(999)

    def test_duplicate_name_is_a_conflict(self, inv: Inventory) -> None:
        inv.add_issuer(issuer_record("a"))
        dup = replace(issuer_record("b"), name="a")
        with pytest.raises(Conflict, match="cannot add issuer 'a'"):
            inv.add_issuer(dup)

    def test_state_change(self, inv: Inventory) -> None:
        rec = inv.add_issuer(issuer_record("a"))
        assert rec.id is not None
        inv.set_issuer_state(rec.id, "retired")
        assert inv.issuer(rec.id).state == "retired"


class TestProfiles:
    def test_versions_grow_only_on_change(self, inv: Inventory) -> None:
        assert inv.register_profile_version("leaf", "a = 1\n", T0) == (1, True)
        assert inv.register_profile_version("leaf", "a = 1\n", T0) == (1, False)
        assert inv.register_profile_version("leaf", "a = 2\n", T0) == (2, True)
        # Going back to old text is a new version: versions describe history.
        assert inv.register_profile_version("leaf", "a = 1\n", T0) == (3, True)
        assert inv.register_profile_version("other", "b = 1\n", T0) == (1, True)
        assert inv.profile_source("leaf") == (3, "a = 1\n")
        assert inv.profile_source("leaf", 2) == (2, "a = 2\n")
        assert inv.profile_versions() == [
            ("leaf", 1, T0),
            ("leaf", 2, T0),
            ("leaf", 3, T0),
            ("other", 1, T0),
        ]

    def test_missing(self, inv: Inventory) -> None:
        with pytest.raises(NotFound, match="no stored profile 'x'"):
            inv.profile_source("x")
        inv.register_profile_version("x", "", T0)
        with pytest.raises(NotFound, match="profile 'x' version 7"):
            inv.profile_source("x", 7)

    def test_stored_hash(self, inv: Inventory) -> None:
        inv.register_profile_version("leaf", "é = 1\n", T0)
        with inv.engine.connect() as conn:
            digest = conn.execute(select(profile_versions.c.sha256)).scalar_one()
        assert digest == sha("é = 1\n")


class TestSerials:
    def test_life_cycle(self, inv: Inventory, build: Builder) -> None:
        serial = build.assign()
        assert inv.serial_state(serial) == "assigned"
        inv.store_precertificate(build.precert(serial), [FINDING])
        assert inv.serial_state(serial) == "precertificate"
        cert_id = inv.store_certificate(build.cert(serial), [])
        assert inv.serial_state(serial) == "issued"
        assert inv.certificate(serial=serial).id == cert_id
        assert inv.serial_state("abc") is None

    def test_collision_comes_from_the_primary_key(self, inv: Inventory, build: Builder) -> None:
        serial = build.assign()
        with pytest.raises(SerialCollision, match=f"serial {serial} is already assigned"):
            build.assign(serial)
        assert issubclass(SerialCollision, CertkeeperError)
        assert count(inv, serials) == 1

    def test_unknown_issuer_is_not_a_collision(self, inv: Inventory, build: Builder) -> None:
        with pytest.raises(Conflict) as info:
            inv.assign_serial("abc", 4242, "p", 1, 0, T0)
        assert not isinstance(info.value, SerialCollision)

    @pytest.mark.parametrize("bad", ["", "0abc", "ABC", "xyz", "1" * 41])
    def test_serial_form_is_checked(self, inv: Inventory, build: Builder, bad: str) -> None:
        with pytest.raises(ValueError):
            inv.assign_serial(bad, build.issuer_id, "p", 1, 0, T0)

    def test_failed(self, inv: Inventory, build: Builder) -> None:
        serial = build.assign()
        inv.mark_serial_failed(serial, "lint gate refused")
        assert inv.serial_state(serial) == "failed"
        with inv.engine.connect() as conn:
            assert conn.execute(select(serials.c.failure)).scalar_one() == "lint gate refused"

    def test_issued_serial_cannot_fail(self, inv: Inventory, build: Builder) -> None:
        rec = build.issue()
        with pytest.raises(Conflict, match="is issued; cannot move it to failed"):
            inv.mark_serial_failed(rec.serial, "late")
        with pytest.raises(NotFound):
            inv.mark_serial_failed("fff", "never assigned")

    def test_cannot_store_for_unassigned_serial(self, inv: Inventory, build: Builder) -> None:
        with pytest.raises(CertkeeperError):
            inv.store_precertificate(build.precert("beef"), [])
        with pytest.raises(CertkeeperError):
            inv.store_certificate(build.cert("beef"), [])
        assert count(inv, precertificates) == 0
        assert count(inv, certificates) == 0


class TestDocuments:
    def test_certificate_round_trip(self, inv: Inventory, build: Builder) -> None:
        inv.ensure_subscriber("acct-1", T0)
        inv.ensure_subscriber("acct-1", T0)
        rec = build.issue(
            subscriber_id="acct-1",
            names=("www.example.com", "example.com", "*.Example.com", "192.0.2.1"),
            findings=(FINDING,),
        )
        by_serial = inv.certificate(serial=rec.serial)
        assert by_serial == replace(rec, names=tuple(sorted(rec.names)))
        assert inv.certificate(sha256=rec.sha256) == by_serial
        assert by_serial.not_before == T0 and by_serial.not_before.tzinfo is not None
        assert inv.findings_for(rec.serial) == [FINDING]
        assert inv.findings_for(rec.serial, "precertificate") == []
        with inv.engine.connect() as conn:
            rev = dict(
                conn.execute(
                    select(certificate_names.c.name, certificate_names.c.reversed_name)
                ).all()
            )
        assert rev["*.Example.com"] == "com.example.*"
        assert rev["www.example.com"] == "com.example.www"

    def test_duplicate_names_are_stored_once(self, inv: Inventory, build: Builder) -> None:
        rec = build.issue(names=("a.example", "a.example", "b.example"))
        assert inv.certificate(serial=rec.serial).names == ("a.example", "b.example")

    def test_precertificate_and_findings(self, inv: Inventory, build: Builder) -> None:
        serial = build.assign()
        pre = build.precert(serial)
        inv.store_precertificate(pre, [FINDING, replace(FINDING, lint_id="other", waived=False)])
        assert inv.precertificate(serial) == pre
        found = inv.findings_for(serial, "precertificate")
        assert [f.lint_id for f in found] == ["w_example_waived", "other"]
        assert found[0].waiver_expires == FINDING.waiver_expires

    def test_not_found(self, inv: Inventory, build: Builder) -> None:
        with pytest.raises(NotFound, match="no certificate with serial abc"):
            inv.certificate(serial="abc")
        with pytest.raises(NotFound, match="no certificate with SHA-256"):
            inv.certificate(sha256="0" * 64)
        with pytest.raises(ValueError):
            inv.certificate()

    def test_times_are_stored_as_utc_whole_seconds(self, inv: Inventory, build: Builder) -> None:
        plus2 = timezone(timedelta(hours=2))
        local = datetime(2025, 3, 1, 14, 0, 0, 999_999, tzinfo=plus2)
        rec = build.issue(not_before=local)
        got = inv.certificate(serial=rec.serial).not_before
        assert got == datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
        assert got.utcoffset() == timedelta(0)

    def test_naive_times_are_refused(self, inv: Inventory, build: Builder) -> None:
        serial = build.assign()
        with pytest.raises(Exception, match="naive datetime"):
            inv.store_certificate(build.cert(serial, not_before=datetime(2025, 1, 1)), [])
        assert inv.serial_state(serial) == "assigned"


class TestTransactions:
    def test_failure_mid_certificate_leaves_nothing(self, inv: Inventory, build: Builder) -> None:
        first = build.issue()
        serial = build.assign()
        inv.store_precertificate(build.precert(serial), [])
        # Same SHA-256 as an existing certificate: the insert of names and findings
        # never commits, and the serial stays where it was.
        clash = build.cert(serial, sha256=first.sha256)
        with pytest.raises(Conflict):
            inv.store_certificate(clash, [FINDING])
        assert inv.serial_state(serial) == "precertificate"
        assert count(inv, certificates) == 1
        assert count(inv, lint_findings) == 0
        assert count(inv, certificate_names) == len(first.names)

    def test_failure_in_also_rolls_back(self, inv: Inventory, build: Builder) -> None:
        serial = build.assign()

        def boom(_conn: object) -> None:
            raise RuntimeError("status write failed")

        with pytest.raises(RuntimeError):
            inv.store_precertificate(build.precert(serial), [FINDING], also=boom)
        assert inv.serial_state(serial) == "assigned"
        assert count(inv, precertificates) == 0
        assert count(inv, lint_findings) == 0
        with pytest.raises(RuntimeError):
            inv.assign_serial("abcd", build.issuer_id, "p", 1, 0, T0, also=boom)
        assert inv.serial_state("abcd") is None

    def test_also_runs_in_the_same_transaction(self, inv: Inventory, build: Builder) -> None:
        seen: list[str | None] = []

        def peek(conn: object) -> None:
            seen.append(
                conn.execute(  # type: ignore[attr-defined]
                    select(serials.c.state).where(serials.c.serial == "abcd")
                ).scalar()
            )

        inv.assign_serial("abcd", build.issuer_id, "p", 1, 0, T0, also=peek)
        assert seen == ["assigned"]

    def test_failure_mid_precertificate_leaves_nothing(
        self, inv: Inventory, build: Builder
    ) -> None:
        serial = build.assign()
        bad_finding = replace(FINDING, waiver_expires=datetime(2025, 1, 1))  # naive: refused
        with pytest.raises(Exception, match="naive datetime"):
            inv.store_precertificate(build.precert(serial), [bad_finding])
        assert inv.serial_state(serial) == "assigned"
        assert count(inv, precertificates) == 0


def test_issuer_record_fields_match_api() -> None:
    assert [f for f in IssuerRecord.__slots__][:3] == ["id", "name", "role"]
