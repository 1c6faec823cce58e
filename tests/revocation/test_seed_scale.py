"""Seed 000 replayed at seed 004's size: 2,000 real certificates on one CRL shard under a
10,000-byte budget, incident item 12 (five days). The plan can revoke about 190 of them
by the deadline; the rest expire three months later. Every surface must say DEADLINE
MISSED with the same figures, and `plan` and `drill` must exit 4."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner

from certkeeper.ca.home import CaHome
from certkeeper.cli.common import EXIT_DEADLINE_MISSED
from certkeeper.cli.main import app
from certkeeper.issuance import tbs as tbsmod
from certkeeper.issuance.serials import new_serial, serial_hex, shard_for
from certkeeper.revocation.verdict import Verdict, judge
from certkeeper.signing.tbs import linting_copy, sign_tbs
from certkeeper.store.incidents import IncidentStore
from certkeeper.store.records import CertificateRecord, PrecertificateRecord
from factories import PASSPHRASE, make_home

COUNT = 2000
BUDGET = 10_000
ENV = {"CERTKEEPER_PASSPHRASE": PASSPHRASE, "CERTKEEPER_ACTOR": "seed-scale"}
runner = CliRunner()
MIXED = re.compile(r"\b27 (affected|certificates|items|precertificates)")  # 24 + 3 added up


@dataclass
class Shape:
    home: Path
    now: datetime  # the one instant the inventory was built at


def issue_bulk(
    ca: CaHome, count: int, not_before: datetime, not_after: datetime, *, orphans: bool = False
) -> None:
    """`count` real certificates of the tls-dv-ecdsa profile, signed by the issuing CA's
    key and stored as issuance stores them (serial assigned, then the certificate).
    With `orphans`, precertificates whose final certificate was never signed."""
    issuer = ca.inventory.issuer_by_name("tls-ecdsa-1")
    assert issuer.id is not None
    profile = ca.profiles.get("tls-dv-ecdsa")
    signer = ca.signer(issuer)
    subject_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    for i in range(count):
        number = new_serial()
        serial = serial_hex(number)
        shard = shard_for(number, ca.config.crl_shards)
        name = f"s{i}.example.com"
        inputs = tbsmod.TbsInputs(
            number,
            (name,),
            subject_key,
            not_before,
            not_after,
            ca.issuer_certificate(issuer).subject,
            bytes.fromhex(issuer.ski),
            issuer.name,
            ca.config.base_url,
            shard,
        )
        tbs = linting_copy(
            tbsmod.build(profile, inputs, precertificate=orphans), issuer.key_type
        ).tbs_certificate_bytes
        der = sign_tbs(tbs, signer)
        ca.inventory.assign_serial(serial, issuer.id, "tls-dv-ecdsa", 1, shard, not_before)
        if orphans:
            sha = hashlib.sha256
            ca.inventory.store_precertificate(
                PrecertificateRecord(
                    serial,
                    issuer.id,
                    der,
                    sha(der).hexdigest(),
                    sha(tbs).hexdigest(),
                    not_before,
                    not_after,
                    not_before,
                ),
                [],
            )
            continue
        ca.inventory.store_certificate(
            CertificateRecord(
                serial,
                issuer.id,
                der,
                hashlib.sha256(der).hexdigest(),
                hashlib.sha1(der).hexdigest(),
                not_before,
                not_after,
                "ecdsa-p256",
                "tls-dv-ecdsa",
                1,
                ca.config.cps_version,
                None,
                shard,
                name,
                not_before,
                (name,),
            ),
            [],
        )


@pytest.fixture(scope="module")
def seed_shape(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shape]:
    """Built once: 2,000 certificates valid for 90 days, one shard, budget 10,000."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
        home = make_home(tmp_path_factory.mktemp("seed") / "home", crl_shards=1)
        config = home / "certkeeper.toml"
        text = config.read_text()
        assert "budget_bytes = 10000000" in text
        config.write_text(text.replace("budget_bytes = 10000000", f"budget_bytes = {BUDGET}"))
        now = datetime.now(UTC).replace(microsecond=0)
        ca = CaHome.open(home)
        issue_bulk(ca, COUNT, now - timedelta(hours=1), now + timedelta(days=90))
        ca.close()
        yield Shape(home, now)


@pytest.fixture
def shape(seed_shape: Shape, tmp_path: Path) -> Shape:
    home = tmp_path / "home"
    shutil.copytree(seed_shape.home, home)
    return Shape(home, seed_shape.now)


def cli(shape: Shape, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--home", str(shape.home)], env=ENV)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def open_incident(shape: Shape, certificates: int = COUNT, precertificates: int = 0) -> None:
    aware = (shape.now - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    code, out, err = cli(
        shape,
        "incident",
        "open",
        "--title",
        "seed 000 at seed 004 size",
        "--aware-at",
        aware,
        "--reason",
        "12",
        "--issuer",
        "tls-ecdsa-1",
    )
    assert code == 0, err
    assert out.startswith(
        f"incident 1: {certificates} certificates affected (distinct by SHA-256), "
        f"{precertificates} precertificates without a final certificate;"
    )


def stored_verdict(shape: Shape, stated: Verdict) -> Verdict:
    """The verdict recomputed from the plan rows as stored in the inventory."""
    ca = CaHome.open(shape.home)
    try:
        rows = list(IncidentStore(ca.inventory.engine).items(1))
    finally:
        ca.close()
    return judge(
        rows,
        stated.deadline,
        batches=stated.batches,
        budget_bytes=stated.budget_bytes,
        budget_to_meet_deadline=stated.budget_to_meet_deadline,
        planned_from=stated.planned_from,
    )


def test_every_surface_says_the_deadline_is_missed_with_the_same_figures(
    shape: Shape, tmp_path: Path
) -> None:
    open_incident(shape)
    code, table, err = cli(shape, "incident", "plan", "1", "--no-notify")
    assert code == EXIT_DEADLINE_MISSED, err
    code, out, err = cli(shape, "incident", "plan", "1", "--no-notify", "--format", "json")
    assert code == EXIT_DEADLINE_MISSED, err
    data = json.loads(out)
    verdict = Verdict.from_dict(data["verdict"])
    c = verdict.certificates
    assert not verdict.met and data["deadline_met"] is False
    assert c.total == COUNT and c.left_to_expire == 0 and c.late == 0
    assert 150 < c.in_time < 250 and c.unrevoked == COUNT - c.in_time
    assert verdict.budget_bytes == BUDGET and verdict.budget_to_meet_deadline > 40 * BUDGET // 5
    assert stored_verdict(shape, verdict) == verdict  # the rows say what the plan says
    sentence = verdict.summary(1)
    assert sentence.startswith("DEADLINE MISSED") and data["summary"] == sentence
    assert f"{c.unrevoked:,} of 2,000 certificates" in sentence
    assert sentence.endswith(
        f"(certkeeper incident plan 1 --override-budget {verdict.budget_to_meet_deadline})."
    )
    assert table.splitlines()[0] == sentence

    # a drill of the same incident, on a copy, states the same verdict
    code, out, err = cli(shape, "incident", "drill", "1", "--format", "json")
    assert code == EXIT_DEADLINE_MISSED, err
    drilled = json.loads(out)
    assert drilled["deadline_met"] is False and drilled["summary"] == sentence
    # the same figures; only the instants it planned from and at are the drill's own
    own = {"last_planned": None, "planned_from": None}
    assert {**drilled["verdict"], **own} == {**data["verdict"], **own}

    code, out, err = cli(shape, "incident", "execute", "1", "--workers", "1")
    assert code == 0, err
    assert f"revoked {c.in_time}," in out and sentence in out.splitlines()
    assert f"remaining {c.unrevoked} of {COUNT} certificates" in out

    code, out, _ = cli(shape, "incident", "status", "1")
    assert code == 0 and sentence in out.splitlines()
    code, out, _ = cli(shape, "incident", "status", "1", "--format", "json")
    status = json.loads(out)
    assert status["plan"]["summary"] == sentence
    assert Verdict.from_dict(status["plan"]["verdict"]) == verdict

    code, out, _ = cli(shape, "incident", "update", "1")
    assert code == 0 and sentence in out and "meets the deadline" not in out

    for fmt in ("md", "html"):
        code, _, err = cli(
            shape, "incident", "report", "1", "--format", fmt, "--out", str(tmp_path)
        )
        assert code == 0, err
        text = (tmp_path / f"incident-1-report.{fmt}").read_text()
        assert sentence in text and "meets the deadline" not in text
        # the timeline's plan entry is the same sentence too, never an overstatement
        assert text.count("DEADLINE MISSED") >= 2
    code, _, err = cli(shape, "incident", "report", "1", "--format", "json", "--out", str(tmp_path))
    assert code == 0, err
    report = json.loads((tmp_path / "incident-1-report.json").read_text())
    assert report["plan"]["summary"] == sentence and report["plan"]["deadline_met"] is False
    assert Verdict.from_dict(report["plan"]["verdict"]) == verdict
    assert report["certificates"]["remaining"] == c.unrevoked


def test_the_budget_the_verdict_names_meets_the_deadline_end_to_end(shape: Shape) -> None:
    open_incident(shape)
    code, out, _ = cli(shape, "incident", "plan", "1", "--no-notify")
    assert code == EXIT_DEADLINE_MISSED
    command = re.search(
        r"\(certkeeper incident plan 1 --override-budget (\d+)\)\.$", out.splitlines()[0]
    )
    assert command is not None
    budget = command.group(1)
    code, out, err = cli(shape, "incident", "plan", "1", "--no-notify", "--override-budget", budget)
    assert code == 0, err
    first = out.splitlines()[0]
    assert first.startswith("The plan meets the deadline")
    assert "2,000 of 2,000 certificates revoked by it" in first
    code, out, err = cli(shape, "incident", "execute", "1", "--workers", "2")
    assert code == 0, err  # published over [crl] budget_bytes, as planned
    assert f"revoked {COUNT}," in out and "1 shard(s) republished" in out
    assert f"remaining 0 of {COUNT} certificates" in out and first in out.splitlines()
    crl = shape.home / "crl" / "tls-ecdsa-1" / "0.crl"
    assert BUDGET < crl.stat().st_size <= int(budget)


def test_a_drill_under_the_named_budget_meets_the_deadline(shape: Shape) -> None:
    open_incident(shape)
    code, out, _ = cli(shape, "incident", "drill", "1", "--format", "json")
    assert code == EXIT_DEADLINE_MISSED
    needed = json.loads(out)["verdict"]["budget_to_meet_deadline"]
    code, out, err = cli(
        shape, "incident", "drill", "1", "--override-budget", str(needed), "--format", "json"
    )
    assert code == 0, err
    drilled = json.loads(out)
    assert drilled["deadline_met"] is True and drilled["revoked"] == COUNT
    assert drilled["shards_refused"] == 0 and drilled["largest_shard_bytes"] <= needed


def test_precertificates_and_certificates_are_never_added_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seed 000's figures were wrong because the two were counted as one: `open` said
    "500 affected" where `status` said 474 certificates and 26 precertificates."""
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    now = datetime.now(UTC).replace(microsecond=0)
    home = make_home(tmp_path / "home", crl_shards=1)
    ca = CaHome.open(home)
    issue_bulk(ca, 24, now - timedelta(hours=1), now + timedelta(days=90))
    issue_bulk(ca, 3, now - timedelta(hours=1), now + timedelta(days=90), orphans=True)
    ca.close()
    shape = Shape(home, now)
    open_incident(shape, certificates=24, precertificates=3)
    code, out, err = cli(shape, "incident", "plan", "1", "--no-notify")
    assert code == 0, err
    sentence = out.splitlines()[0]
    assert sentence.startswith("The plan meets the deadline")
    assert "24 of 24 certificates revoked by it (and 3 of 3 precertificates" in sentence
    assert not MIXED.search(out)
    code, out, _ = cli(shape, "incident", "status", "1")
    assert "affected 24 = revoked 0" in out and "without a final certificate: affected 3" in out
    assert not MIXED.search(out) and sentence in out.splitlines()
    code, out, _ = cli(shape, "incident", "execute", "1", "--workers", "1")
    assert code == 0 and "remaining 0 of 24 certificates, 0 of 3 precertificates" in out
    code, _, err = cli(shape, "incident", "report", "1", "--out", str(tmp_path / "r"))
    assert code == 0, err
    md = (tmp_path / "r" / "incident-1-report.md").read_text()
    assert "24 certificates and 3 precertificates without a final certificate affected" in md
    assert not MIXED.search(md)
