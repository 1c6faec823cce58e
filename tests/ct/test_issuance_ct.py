"""CT end to end: a CA home with a [ct] log list issues through loopback RFC 6962 logs.

Checked by software no one here wrote: OpenSSL validates the embedded SCTs against the
logs' keys (and rejects a tampered one), and certspotter monitors the logs and finds
every precertificate with a tree that verifies. Failure is safe: without enough SCTs
no final certificate is signed, the precertificate keeps its status, and `--resume`
completes it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from typer.testing import CliRunner

from certkeeper import wiring
from certkeeper.ca.home import CaHome
from certkeeper.cli.main import app
from certkeeper.ct import tls
from certkeeper.ct.sct import (
    Sct,
    SignatureType,
    decode_sct_list,
    encode_sct_list,
    precert_entry,
    verify_sct,
)
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.final import final_from_precertificate
from certkeeper.issuance.service import IssuanceService, Issued, IssueRequest, SctsPending
from certkeeper.signing.tbs import linting_copy, sign_tbs
from certkeeper.store.ocsp_repo import OcspStore
from certkeeper.store.scts import SctStore
from certkeeper.store.tables import certificates, ocsp_responses
from certkeeper.wiring import issuance_service
from certkeeper.x509 import der
from dnsserver import free_port
from factories import PASSPHRASE, csr_pem, make_home

from .served import MiniCa, ServedLog, log_list_text, served_logs

pytestmark = pytest.mark.slow


@dataclass
class CtHome:
    path: Path
    ca: CaHome
    logs: list[ServedLog]

    def service(self) -> IssuanceService:
        return issuance_service(self.ca)

    def issue(self, *names: str) -> Issued:
        request = IssueRequest(load_csr(csr_pem(list(names))), "tls-dv-ecdsa")
        return self.service().issue(request)


@pytest.fixture(scope="module")
def ct_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CtHome]:
    mp = pytest.MonkeyPatch()
    mp.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    path = make_home(tmp_path_factory.mktemp("ct") / "home")
    root = x509.load_pem_x509_certificate((path / "certs/root.pem").read_bytes())
    with served_logs([root.public_bytes(Encoding.DER)], ["Op A", "Op B", "Op C"]) as logs:
        for s in logs:
            s.log.timeout_seconds = 2.0
        (path / "ct").mkdir()
        (path / "ct/log_list.json").write_text(log_list_text(logs, datetime.now(UTC)))
        with (path / "certkeeper.toml").open("a") as fh:
            fh.write(
                '\n[ct]\nlog_list = "ct/log_list.json"\ntimeout_seconds = 0.5\n'
                "deadline_seconds = 3\nattempts_per_log = 2\nbackoff_seconds = 0.05\n"
            )
        ca = CaHome.open(path)
        yield CtHome(path, ca, logs)
        ca.close()
    mp.undo()


@pytest.fixture(autouse=True)
def no_faults(ct_home: CtHome) -> Iterator[None]:
    yield
    for s in ct_home.logs:
        s.log.faults.clear()


def embedded(cert_der: bytes) -> bytes:
    cert = x509.load_der_x509_certificate(cert_der)
    ext = cert.extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps)
    assert not ext.critical
    raw = der.parse_single(ext.value.public_bytes()).content
    # cryptography's own parser reads the same SCTs (its times are naive UTC datetimes)
    theirs = [
        (s.log_id, round(s.timestamp.replace(tzinfo=UTC).timestamp() * 1000)) for s in ext.value
    ]
    assert theirs == [(s.log_id, s.timestamp) for s in decode_sct_list(raw)]
    return raw


def test_issued_certificate_embeds_verified_scts_from_two_operators(ct_home: CtHome) -> None:
    issued = ct_home.issue("ct1.example.com")
    issuer = x509.load_der_x509_certificate(issued.chain[0])
    entry = precert_entry(issued.precertificate_der, issuer)
    scts = decode_sct_list(embedded(issued.der))
    by_id = {s.log.log_id: s for s in ct_home.logs}
    assert len(scts) == 2
    assert len({by_id[s.log_id].operator for s in scts}) == 2
    for sct in scts:
        verify_sct(sct, by_id[sct.log_id].log.spki, entry)
    stored = SctStore(ct_home.ca.inventory.engine).for_serial(issued.serial)
    assert sorted(r.log_id for r in stored) == sorted(s.log_id.hex() for s in scts)
    assert {r.sct for r in stored} == {s.encode() for s in scts}
    assert ct_home.ca.inventory.serial_state(issued.serial) == "issued"


def test_openssl_accepts_the_embedded_scts_and_rejects_a_tampered_one(
    ct_home: CtHome, tmp_path: Path
) -> None:
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("tls.example.com")]), critical=False
        )
        .sign(leaf_key, hashes.SHA256())
    )
    request = IssueRequest(load_csr(csr.public_bytes(Encoding.PEM)), "tls-dv-ecdsa")
    issued = ct_home.service().issue(request)
    (tmp_path / "leaf.key").write_bytes(
        leaf_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    )
    (tmp_path / "chain.pem").write_bytes(_pem(issued.chain[0]))
    logfile = tmp_path / "ct_logs.cnf"
    names = [f"log{i}" for i in range(len(ct_home.logs))]
    logfile.write_text(
        f"enabled_logs = {','.join(names)}\n\n"
        + "".join(
            f"[{n}]\ndescription = test log {i}\nkey = {base64.b64encode(s.log.spki).decode()}\n\n"
            for i, (n, s) in enumerate(zip(names, ct_home.logs, strict=True))
        )
    )
    good = _handshake(ct_home, tmp_path, issued.der, logfile)
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.count("SCT validation status: valid") == 2
    assert "Verify return code: 0 (ok)" in good.stdout

    # The same certificate re-signed by the CA with one SCT's signature altered.
    scts = decode_sct_list(embedded(issued.der))
    flipped = bytearray(scts[0].signature)
    flipped[-1] ^= 1
    forged = replace(scts[0], signature=bytes(flipped))
    bad = _handshake(ct_home, tmp_path, _resign(ct_home, issued, [forged, *scts[1:]]), logfile)
    assert "SCT validation status: invalid" in bad.stdout
    assert "SCT validation status: valid" in bad.stdout  # the untouched one
    # With only the altered SCT, OpenSSL's strict CT check fails the handshake.
    worse = _handshake(ct_home, tmp_path, _resign(ct_home, issued, [forged]), logfile)
    assert worse.returncode != 0
    assert "SCT validation status: invalid" in worse.stdout
    assert "SCT validation status: valid" not in worse.stdout


def _resign(ct_home: CtHome, issued: Issued, scts: list[Sct]) -> bytes:
    """What only a CA key could make: the certificate with other SCTs embedded."""
    pre = x509.load_der_x509_certificate(issued.precertificate_der)
    issuer = next(r for r in ct_home.ca.inventory.issuers() if r.cert_der == issued.chain[0])
    builder = final_from_precertificate(pre, encode_sct_list(scts))
    tbs = linting_copy(builder, issuer.key_type).tbs_certificate_bytes
    return sign_tbs(tbs, ct_home.ca.signer(issuer))


def _pem(der_bytes: bytes) -> bytes:
    return x509.load_der_x509_certificate(der_bytes).public_bytes(Encoding.PEM)


def _handshake(
    ct_home: CtHome, tmp_path: Path, cert_der: bytes, logfile: Path
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "leaf.pem").write_bytes(_pem(cert_der))
    # OpenSSL compares SCT times with the session time in whole seconds: an SCT from
    # this very second counts as from the future, as it would for any client.
    newest = max(s.timestamp for s in decode_sct_list(embedded(cert_der))) / 1000
    time.sleep(max(0.0, newest + 1.1 - time.time()))
    port = free_port()
    server = subprocess.Popen(
        [
            "openssl",
            "s_server",
            "-accept",
            f"127.0.0.1:{port}",
            "-naccept",
            "1",
            "-cert",
            str(tmp_path / "leaf.pem"),
            "-key",
            str(tmp_path / "leaf.key"),
            "-cert_chain",
            str(tmp_path / "chain.pem"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        while server.stdout.readline().strip() != "ACCEPT":  # until it listens
            assert server.poll() is None, "openssl s_server exited"
        return subprocess.run(
            [
                "openssl",
                "s_client",
                "-connect",
                f"127.0.0.1:{port}",
                "-servername",
                "tls.example.com",
                "-ct",
                "-ctlogfile",
                str(logfile),
                "-CAfile",
                str(ct_home.path / "certs/root.pem"),
                "-verify_return_error",
            ],
            input="",
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        server.kill()
        server.wait(10)


def test_without_enough_scts_the_precertificate_waits_and_resume_completes_it(
    ct_home: CtHome,
) -> None:
    for s in ct_home.logs[1:]:
        s.log.faults.add("5xx")
    with pytest.raises(SctsPending, match="CT policy not met") as info:
        ct_home.issue("wait.example.com")
    serial = info.value.serial
    inventory = ct_home.ca.inventory
    assert inventory.serial_state(serial) == "precertificate"
    status = OcspStore(inventory.engine).get(serial)
    assert status is not None and status.status == "good"
    pending = SctStore(inventory.engine).pending(serial)
    assert "HTTP 503" in pending.reason and pending.attempts == 1
    assert f"issue --resume {serial}" in str(info.value)

    # still failing: nothing signed, the attempt counted
    with pytest.raises(SctsPending):
        ct_home.service().resume(serial)
    assert SctStore(inventory.engine).pending(serial).attempts == 2
    assert inventory.serial_state(serial) == "precertificate"

    listed = CliRunner().invoke(
        app,
        ["ct", "pending", "--format", "json", "--home", str(ct_home.path)],
        env={"CERTKEEPER_PASSPHRASE": PASSPHRASE},
    )
    assert listed.exit_code == 0, listed.output
    (row,) = [r for r in json.loads(listed.stdout) if r["serial"] == serial]
    assert row["attempts"] == 2 and "HTTP 503" in row["reason"]

    for s in ct_home.logs:
        s.log.faults.clear()
    result = CliRunner().invoke(
        app,
        ["issue", "--resume", serial, "--home", str(ct_home.path)],
        env={"CERTKEEPER_PASSPHRASE": PASSPHRASE},
    )
    assert result.exit_code == 0, result.output
    cert = inventory.certificate(serial=serial)
    final = x509.load_der_x509_certificate(cert.der)
    assert final.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.DNSName) == ["wait.example.com"]
    assert len(decode_sct_list(embedded(cert.der))) == 2
    assert inventory.serial_state(serial) == "issued"
    with pytest.raises(Exception, match="not waiting for SCTs"):
        ct_home.service().resume(serial)


@pytest.mark.parametrize("fault", ["bad_signature", "wrong_log_id", "timeout"])
def test_no_bad_sct_is_ever_embedded(ct_home: CtHome, fault: str) -> None:
    for s in ct_home.logs:
        s.log.faults.add(fault)
    started = time.monotonic()
    with pytest.raises(SctsPending) as info:
        ct_home.issue(f"{fault.replace('_', '-')}.example.com")
    assert time.monotonic() - started < 3.0 + 2.0  # the deadline holds
    with ct_home.ca.inventory.engine.connect() as conn:
        count = conn.execute(
            sa.select(sa.func.count()).where(certificates.c.serial == info.value.serial)
        ).scalar()
    assert count == 0


def test_certspotter_monitors_the_logs_without_errors(ct_home: CtHome, tmp_path: Path) -> None:
    issued = ct_home.issue("spotted.example.com")
    scts = decode_sct_list(embedded(issued.der))
    used = {s.log_id for s in scts}
    wanted = [
        f"finished downloading entries from {s.url}" for s in ct_home.logs if s.log.log_id in used
    ]
    out = certspotter(
        ct_home.path / "ct/log_list.json",
        "spotted.example.com",
        tmp_path,
        lambda seen: all(w in seen for w in wanted) or "error verifying" in seen,
    )
    pre_sha = hashlib.sha256(issued.precertificate_der).hexdigest()
    assert out.count(f"{pre_sha}:") == len(used), out
    assert all(w in out for w in wanted), out
    assert "error" not in out.replace("stopped with error context canceled", "").lower(), out


def _rogue_precertificate(ct_home: CtHome, name: str) -> bytes:
    """A precertificate signed with our issuer's key that the inventory never saw:
    what a bypassed workflow or a stolen key would leave in the logs."""
    issued = ct_home.issue(f"template-{name}")
    pre = x509.load_der_x509_certificate(issued.precertificate_der)
    issuer = next(r for r in ct_home.ca.inventory.issuers() if r.cert_der == issued.chain[0])
    builder = (
        x509.CertificateBuilder()
        .serial_number(x509.random_serial_number())
        .issuer_name(pre.issuer)
        .subject_name(pre.subject)
        .public_key(ec.generate_private_key(ec.SECP256R1()).public_key())
        .not_valid_before(pre.not_valid_before_utc)
        .not_valid_after(pre.not_valid_after_utc)
    )
    for ext in pre.extensions:
        if not isinstance(ext.value, x509.SubjectAlternativeName):
            builder = builder.add_extension(ext.value, ext.critical)
    builder = builder.add_extension(
        x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False
    )
    tbs = linting_copy(builder, issuer.key_type).tbs_certificate_bytes
    return sign_tbs(tbs, ct_home.ca.signer(issuer))


def test_audit_ct_finds_logged_precertificates_without_inventory_or_status(
    ct_home: CtHome, tmp_path: Path
) -> None:
    fine = ct_home.issue("fine.example.com")
    lost = ct_home.issue("lost-status.example.com")
    with ct_home.ca.inventory.engine.begin() as conn:  # seed 003: the status never written
        conn.execute(sa.delete(ocsp_responses).where(ocsp_responses.c.serial == lost.serial))
    rogue = _rogue_precertificate(ct_home, "rogue.example.com")
    rogue_serial = format(x509.load_der_x509_certificate(rogue).serial_number, "x")
    ct_home.logs[2].log.add_chain([rogue, *_chain(ct_home, fine)], precert=True)

    urls = [s.url for s in ct_home.logs]
    args = ["audit", "ct", "--home", str(ct_home.path), "--state", str(tmp_path / "state")]
    for url in urls:
        args += ["--log", url]
    env = {"CERTKEEPER_PASSPHRASE": PASSPHRASE}
    first = CliRunner().invoke(app, args, env=env)
    assert first.exit_code == 4, first.output
    lines = [line.split("\t") for line in first.stdout.splitlines()]
    assert ["unknown-serial", rogue_serial] in [row[:2] for row in lines]
    lost_rows = [row for row in lines if row[1] == lost.serial]
    assert lost_rows and {row[0] for row in lost_rows} == {"no-status"}
    assert not [row for row in lines if row[1] == fine.serial]

    again = CliRunner().invoke(app, args, env=env)  # resumes where it stopped
    assert again.exit_code == 0, again.output
    assert "read 0 entries" in again.output

    # An outsider with only the issuer certificate collects the same entries for
    # `audit coverage --certs`.
    issuer_pem = tmp_path / "issuer.pem"
    issuer_pem.write_bytes(_pem(fine.chain[0]))
    out = tmp_path / "entries"
    outsider = ["audit", "ct", "--issuer", str(issuer_pem), "--out", str(out)]
    outsider += ["--state", str(tmp_path / "outsider")]
    for url in urls:
        outsider += ["--log", url]
    result = CliRunner().invoke(app, outsider)
    assert result.exit_code == 0, result.output
    assert list(out.glob(f"precert-{rogue_serial}-*.der"))
    assert len(list(out.glob(f"precert-{lost.serial}-*.der"))) == 2


def test_audit_ct_embedded_checks_signatures_and_inclusion(ct_home: CtHome) -> None:
    from certkeeper.audit.ct_audit import check_embedded
    from certkeeper.ct.loglist import parse_log_list
    from certkeeper.ct.sct import SignedEntry

    issued = ct_home.issue("embedded.example.com")
    loglist = parse_log_list((ct_home.path / "ct/log_list.json").read_text(), "list")
    rows = [(issued.serial, issued.der, issued.precertificate_der, issued.chain[0])]
    assert check_embedded(rows, loglist) == []

    # An SCT the log really signed, two days ago, for an entry it never incorporated.
    issuer = x509.load_der_x509_certificate(issued.chain[0])
    entry: SignedEntry = precert_entry(issued.precertificate_der, issuer)
    log = ct_home.logs[2].log
    old = int(time.time() * 1000) - 2 * 86_400_000
    promise = log._sign_sct(old, entry)
    unlogged = _resign(ct_home, issued, [promise])
    findings = check_embedded(
        [(issued.serial, unlogged, issued.precertificate_der, issued.chain[0])], loglist
    )
    assert [f.kind for f in findings] == ["not-in-log"]

    forged = replace(promise, timestamp=promise.timestamp + 1)
    findings = check_embedded(
        [
            (
                issued.serial,
                _resign(ct_home, issued, [forged]),
                issued.precertificate_der,
                issued.chain[0],
            )
        ],
        loglist,
    )
    assert [f.kind for f in findings] == ["sct-invalid"]


def _chain(ct_home: CtHome, issued: Issued) -> list[bytes]:
    root = x509.load_pem_x509_certificate((ct_home.path / "certs/root.pem").read_bytes())
    return [issued.chain[0], root.public_bytes(Encoding.DER)]


def test_certspotter_reports_a_log_whose_tree_head_lies(tmp_path: Path) -> None:
    """The check above means something: the same monitor flags a signed tree head whose
    root does not match the log's entries."""
    ca = MiniCa.create(datetime(2026, 11, 2, tzinfo=UTC))
    with served_logs([ca.chain()[-1]], ["Liar"]) as (served,):
        log = served.log
        for _ in range(3):
            log.add_chain(
                [ca.precertificate(datetime(2026, 11, 2, tzinfo=UTC)), *ca.chain()], precert=True
            )
        forged_root = hashlib.sha256(b"not the tree").digest()
        stamp = int(time.time() * 1000)
        data = tls.uint(0, 1) + tls.uint(SignatureType.TREE_HASH, 1) + tls.uint(stamp, 8)
        data += tls.uint(3, 8) + forged_root
        sig = log.key.sign(data, ec.ECDSA(hashes.SHA256()))
        log._sth[3] = {
            "tree_size": 3,
            "timestamp": stamp,
            "sha256_root_hash": base64.b64encode(forged_root).decode(),
            "tree_head_signature": base64.b64encode(
                tls.uint(4, 1) + tls.uint(3, 1) + tls.vector(sig, 2)
            ).decode(),
        }
        listing = tmp_path / "list.json"
        listing.write_text(log_list_text([served], datetime.now(UTC)))
        out = certspotter(
            listing, "ct.example.com", tmp_path, lambda seen: "error verifying" in seen
        )
    assert "error verifying" in out and "does not match the entries" in out, out


def test_cps_render_states_the_ct_policy_and_cps_check_agrees(
    ct_home: CtHome, tmp_path: Path
) -> None:
    env = {"CERTKEEPER_PASSPHRASE": PASSPHRASE}
    cps = tmp_path / "cps.md"
    rendered = CliRunner().invoke(
        app, ["cps", "render", "--out", str(cps), "--home", str(ct_home.path)], env=env
    )
    assert rendered.exit_code == 0, rendered.output
    text = cps.read_text()
    assert (
        "Certificate Transparency: every certificate embeds signed certificate timestamps" in text
    )
    assert "2 for a lifetime of at most 180 days, 3 above" in text
    assert "at least 2 different log operators" in text
    checked = CliRunner().invoke(
        app, ["cps", "check", str(cps), "--home", str(ct_home.path)], env=env
    )
    assert checked.exit_code == 0, checked.output


def test_an_outsider_finds_a_logged_precertificate_the_responder_does_not_know(
    ct_home: CtHome, tmp_path: Path
) -> None:
    """Seed 003 as someone outside the CA would find it: the issuer's entries from the
    logs (`audit ct --issuer --out`), then every serial asked of its OCSP responder
    (`audit coverage --certs`)."""
    from audit.status_audit_helpers import serve_in_thread, status_app

    fine = ct_home.issue("outsider-fine.example.com")
    rogue = _rogue_precertificate(ct_home, "outsider-rogue.example.com")
    rogue_serial = format(x509.load_der_x509_certificate(rogue).serial_number, "x")
    ct_home.logs[0].log.add_chain([rogue, *_chain(ct_home, fine)], precert=True)
    issuer_pem = tmp_path / "issuer.pem"
    issuer_pem.write_bytes(_pem(fine.chain[0]))
    out = tmp_path / "entries"
    walk = ["audit", "ct", "--issuer", str(issuer_pem), "--out", str(out)]
    walk += ["--state", str(tmp_path / "state")]
    for s in ct_home.logs:
        walk += ["--log", s.url]
    assert CliRunner().invoke(app, walk).exit_code == 0
    with serve_in_thread(status_app(ct_home.path)) as url:
        result = CliRunner().invoke(
            app,
            [
                "audit",
                "coverage",
                "--certs",
                str(out),
                "--issuer",
                str(issuer_pem),
                "--ocsp",
                url + "/ocsp",
                "--no-crl",
                "--probes",
                "0",
                "--workers",
                "1",
                "--format",
                "json",
            ],
            env={"CERTKEEPER_PASSPHRASE": PASSPHRASE},
        )
    assert result.exit_code == 4, result.output
    report = json.loads(result.stdout)
    # our responder answers "unauthorized" for a serial it never assigned: no status
    without_status = {f["serial"] for f in report["findings"] if f["kind"] == "no-status"}
    assert rogue_serial in without_status, report["findings"]
    assert fine.serial not in {f["serial"] for f in report["findings"]}


def certspotter(
    listing: Path, name: str, work: Path, done: Callable[[str], bool], timeout: float = 60
) -> str:
    """Run Debian's certspotter over the logs of `listing`, watching `name`, until its
    output satisfies `done` (or `timeout`); returns everything it printed."""
    watch = work / "watch"
    watch.write_text(name + "\n")
    proc = subprocess.Popen(
        [
            "certspotter",
            "-logs",
            str(listing),
            "-state_dir",
            str(work / "certspotter"),
            "-watchlist",
            str(watch),
            "-stdout",
            "-verbose",
            "-no_save",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None and not done("".join(lines)):
            time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(10)
        reader.join(10)
    return "".join(lines)


def test_incident_lists_name_each_certificates_precertificate_and_log_entries(
    ct_home: CtHome,
) -> None:
    from certkeeper.store.incidents import CampaignItem

    issued = ct_home.issue("listed.example.com")
    cert = ct_home.ca.inventory.certificate(serial=issued.serial)
    item = CampaignItem(
        cert.serial,
        cert.sha256,
        "certificate",
        cert.issuer_id,
        cert.crl_shard,
        cert.not_after,
        None,
    )
    ((row, _),) = list(
        wiring.build(ct_home.ca).reports.iter_affected([item], {}, datetime.now(UTC))
    )
    assert row.precertificate_sha256 == hashlib.sha256(issued.precertificate_der).hexdigest()
    assert len(row.ct_entries) == 2
    by_url = {s.url: s.log for s in ct_home.logs}
    for line in row.ct_entries:
        # "test log N <url> at <timestamp> leaf <base64 leaf hash>", the leaf in that log
        url = line[line.index("<") + 1 : line.index(">")]
        leaf = base64.b64decode(line.rsplit(" leaf ", 1)[1])
        log = by_url[url]
        index, _ = log.proof_by_hash(leaf, len(log.hashes))
        assert index >= 0


def test_audit_coverage_takes_an_outsiders_serials_straight_from_the_logs(
    ct_home: CtHome, tmp_path: Path
) -> None:
    """The same finding in one step: `audit coverage --ct-log URL --issuer F`."""
    from audit.status_audit_helpers import serve_in_thread, status_app

    fine = ct_home.issue("outsider-one-step.example.com")
    rogue = _rogue_precertificate(ct_home, "outsider-one-step-rogue.example.com")
    rogue_serial = format(x509.load_der_x509_certificate(rogue).serial_number, "x")
    ct_home.logs[1].log.add_chain([rogue, *_chain(ct_home, fine)], precert=True)
    issuer_pem = tmp_path / "issuer.pem"
    issuer_pem.write_bytes(_pem(fine.chain[0]))
    args = ["audit", "coverage", "--issuer", str(issuer_pem), "--no-crl", "--probes", "0"]
    args += ["--workers", "1", "--format", "json"]
    for s in ct_home.logs:
        args += ["--ct-log", s.url]
    with serve_in_thread(status_app(ct_home.path)) as url:
        result = CliRunner().invoke(app, [*args, "--ocsp", url + "/ocsp"])
    assert result.exit_code == 4, result.output
    findings = json.loads(result.stdout)["findings"]
    assert rogue_serial in {f["serial"] for f in findings if f["kind"] == "no-status"}
    assert fine.serial not in {f["serial"] for f in findings}

    other = MiniCa.create(datetime.now(UTC))
    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(_pem(other.issuer.public_bytes(Encoding.DER)))
    nothing = CliRunner().invoke(
        app, ["audit", "coverage", "--issuer", str(stranger), "--ct-log", ct_home.logs[0].url]
    )
    assert nothing.exit_code == 1
    assert "hold nothing issued by" in " ".join(nothing.stderr.split())
    both = CliRunner().invoke(
        app, ["audit", "coverage", "--certs", str(tmp_path), "--ct-log", ct_home.logs[0].url]
    )
    assert both.exit_code == 1 and "--ct-log takes the place of --certs" in both.stderr
