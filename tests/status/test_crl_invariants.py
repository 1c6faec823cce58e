"""No sequence of issue / revoke / publish / advance-time ever drops an unexpired revoked
serial from its shard, puts one in the wrong shard, or lets a CRL number go backwards;
and a shard is pending exactly while it holds revocations no publication has covered."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import delete, insert

from certkeeper import crl_files, wiring
from certkeeper.ca.home import CaHome
from certkeeper.status.crl import LOOKBACK
from certkeeper.store.crl_repo import CrlStore
from certkeeper.store.revocations import RevocationStore
from certkeeper.store.tables import crl_shards, precertificates, revocations, serials
from certkeeper.x509 import crl as crlenc
from factories import make_home

SHARDS = 4
PROFILE = "synthetic-invariants"


def _stand_in_der() -> bytes:
    """One parseable certificate standing in for every synthetic precertificate: a
    keyCompromise revocation reads its key to block it (BR 6.1.1.3)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, PROFILE)])
    start = datetime(2026, 1, 1, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=90))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.DER)


STAND_IN = _stand_in_der()


@dataclass
class Cert:
    serial: str
    issuer: str
    issuer_id: int
    shard: int
    not_after: datetime


@pytest.fixture(scope="module")
def ca(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: pytest.MonkeyPatch
) -> Iterator[CaHome]:
    home = CaHome.open(make_home(tmp_path_factory.mktemp("inv") / "home", crl_shards=SHARDS))
    yield home
    home.close()


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    from factories import PASSPHRASE

    mp = pytest.MonkeyPatch()
    mp.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    yield mp
    mp.undo()


class CrlMachine(RuleBasedStateMachine):
    def __init__(self, ca: CaHome) -> None:
        super().__init__()
        self.ca = ca
        engine = ca.inventory.engine
        with engine.begin() as conn:  # each example starts from an empty status history
            conn.execute(delete(revocations))
            conn.execute(delete(crl_shards))
            conn.execute(delete(precertificates).where(precertificates.c.der == STAND_IN))
            conn.execute(delete(serials).where(serials.c.profile_id == PROFILE))
        self.revs = RevocationStore(engine)
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.out = ca.config.crl_dir  # the served directory: publishing clears pending
        self.issuers = [(i.name, i.id) for i in ca.inventory.issuers(role="issuing")]
        self.certs: list[Cert] = []
        self.revoked: dict[str, tuple[datetime, int | None]] = {}
        self.numbers: dict[tuple[str, int], int] = {}
        self.published_at: datetime | None = None
        self.covered: set[str] = set()  # revoked before the last publication

    @rule(
        seed=st.integers(min_value=0, max_value=2**32),
        validity_hours=st.integers(min_value=1, max_value=24 * 30),
        which=st.integers(min_value=0, max_value=1),
    )
    def issue(self, seed: int, validity_hours: int, which: int) -> None:
        value = random.Random(seed).getrandbits(126) | (1 << 126)
        serial = format(value, "x")
        if any(c.serial == serial for c in self.certs):
            return
        name, issuer_id = self.issuers[which]
        assert issuer_id is not None
        cert = Cert(
            serial, name, issuer_id, value % SHARDS, self.now + timedelta(hours=validity_hours)
        )
        with self.ca.inventory.engine.begin() as conn:
            conn.execute(
                insert(serials).values(
                    serial=serial, issuer_id=issuer_id, assigned_at=self.now,
                    state="precertificate", profile_id=PROFILE, profile_version=1,
                    crl_shard=cert.shard,
                )
            )  # fmt: skip
            conn.execute(
                insert(precertificates).values(
                    serial=serial, issuer_id=issuer_id, der=STAND_IN,
                    sha256=hashlib.sha256(serial.encode()).hexdigest(),
                    tbs_sha256=hashlib.sha256(serial.encode()).hexdigest(),
                    not_before=self.now, not_after=cert.not_after, created_at=self.now,
                )
            )  # fmt: skip
        self.certs.append(cert)

    @precondition(lambda self: any(c.serial not in self.revoked for c in self.certs))
    @rule(
        pick=st.integers(min_value=0, max_value=10_000),
        reason=st.sampled_from([None, *sorted(crlenc.SUBSCRIBER_REASONS)]),
    )
    def revoke(self, pick: int, reason: int | None) -> None:
        open_certs = [c for c in self.certs if c.serial not in self.revoked]
        cert = open_certs[pick % len(open_certs)]
        out = self.revs.record(cert.serial, self.now, reason, "invariant test", None, self.now)
        assert out.action == "revoked"
        self.revoked[cert.serial] = (self.now, reason)

    @rule(hours=st.integers(min_value=1, max_value=24 * 12))
    def advance(self, hours: int) -> None:
        self.now += timedelta(hours=hours)

    @rule()
    def publish_all(self) -> None:
        report = wiring.build(self.ca).crl.publish(self.out, self.now)
        assert not report.refused and not report.skipped
        for r in report.published:
            if r.kind != "shard":
                continue
            assert r.shard is not None and r.crl_number is not None
            key = (r.issuer, r.shard)
            assert r.crl_number > self.numbers.get(key, 0), f"CRL number went back for {key}"
            self.numbers[key] = r.crl_number
        self.published_at = self.now
        self.covered = set(self.revoked)

    @invariant()
    def pending_is_what_no_publication_covered(self) -> None:
        expected: dict[tuple[int, int], int] = {}
        for cert in self.certs:
            if cert.serial in self.revoked and cert.serial not in self.covered:
                key = (cert.issuer_id, cert.shard)
                expected[key] = expected.get(key, 0) + 1
        assert CrlStore(self.ca.inventory.engine).pending_shards() == expected

    @invariant()
    def shards_hold_every_unexpired_revocation(self) -> None:
        if self.published_at is None:
            return
        at = self.published_at
        by_serial = {c.serial: c for c in self.certs}
        listed: dict[str, tuple[str, int]] = {}
        for name, _ in self.issuers:
            for shard in range(SHARDS):
                parsed = x509.load_der_x509_crl(
                    crl_files.shard_path(self.out, name, shard).read_bytes()
                )
                assert parsed.last_update_utc == at
                for entry in parsed:
                    serial = format(entry.serial_number, "x")
                    assert serial not in listed, f"{serial} listed twice"
                    listed[serial] = (name, shard)
                    assert serial in self.covered
                    when, reason = self.revoked[serial]
                    assert entry.revocation_date_utc == when
                    has_reason = bool(list(entry.extensions))
                    assert has_reason == (reason is not None)
        for serial in self.covered:
            cert = by_serial[serial]
            if cert.not_after + LOOKBACK >= at:
                assert listed.get(serial) == (cert.issuer, cert.shard), (
                    f"unexpired revoked serial {serial} missing from its shard"
                )
            else:
                assert serial not in listed  # gone only after expiry + lookback
        for serial, (name, shard) in listed.items():
            assert int(serial, 16) % SHARDS == shard and by_serial[serial].issuer == name


def test_no_sequence_of_operations_drops_an_unexpired_revoked_serial(ca: CaHome) -> None:
    run_state_machine_as_test(
        lambda: CrlMachine(ca),
        settings=settings(
            max_examples=15,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
