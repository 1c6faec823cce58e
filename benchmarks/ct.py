"""Certificate Transparency: issuance with SCTs from loopback RFC 6962 logs beside
issuance without CT, in the same run; and the CT audit's entries/s over a large log.

Each log is a `certkeeper ct serve-log` process (its own interpreter, as a real log
would be). Issuance uses the full path (`wiring.issuance_service`, both linters).
The audit walks one log of `--entries` entries, a tenth of them precertificates of the
home's issuer with serials the inventory never assigned (each one a finding), and
looks every one of those up in the inventory, as `certkeeper audit ct` does.

    .venv/bin/python benchmarks/ct.py [--count N] [--logs L] [--entries E]

Goals (issue 13): issuance with CT to two or three loopback logs measured beside
issuance without; the audit's entries/s over a log of 1,000,000 entries.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from loopback_ct import name_logs, serve_logs

from certkeeper.audit import ct_audit
from certkeeper.ca.home import CaHome, InitOptions, create_home
from certkeeper.ct import tls
from certkeeper.ct.entries import leaf_input
from certkeeper.ct.sct import SignedEntry, issuer_key_hash
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.service import IssueRequest
from certkeeper.wiring import issuance_service
from certkeeper.x509 import der
from certkeeper.x509.tbs import CT_POISON, remove_extension

PASSPHRASE = "benchmark"


def csr(i: int) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = f"ct{i}.bench.example.com"
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )


def issue_many(home: Path, csrs: list[bytes]) -> tuple[list[float], list[float]]:
    """Seconds per certificate, and per SCT collection (step 7's hook) alone."""
    marks: dict[str, float] = {}

    def on_step(name: str) -> None:
        marks[name] = time.perf_counter()

    ca = CaHome.open(home)
    service = issuance_service(ca, on_step=on_step)
    service.issue(IssueRequest(load_csr(csr(10_000_000 + len(csrs))), "tls-dv-ecdsa"))  # warm-up
    took, scts = [], []
    for data in csrs:
        start = time.perf_counter()
        service.issue(IssueRequest(load_csr(data), "tls-dv-ecdsa"))
        took.append(time.perf_counter() - start)
        scts.append(marks["lint_certificate"] - marks["collect_scts"])
    ca.close()
    return took, scts


def row(label: str, took: list[float]) -> str:
    total = sum(took) or 1e-9
    ordered = sorted(took)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (
        f"{label:<28} {len(took):>6} {total:>8.2f} {len(took) / total:>9.1f} "
        f"{statistics.median(took) * 1000:>8.1f} {p95 * 1000:>8.1f}"
    )


def issuance(home: Path, work: Path, count: int, logs: int) -> bytes:
    """Returns one issued precertificate (a template for the audit's entries)."""
    without, no_scts = issue_many(home, [csr(i) for i in range(count)])
    with serve_logs(home / "certs/root.pem", work, logs) as served:
        name_logs(home, served)
        with_ct, scts = issue_many(home, [csr(count + i) for i in range(count)])
    print(
        f"{'issuance (one process)':<28} {'certs':>6} {'s':>8} {'certs/s':>9} {'p50 ms':>8} "
        f"{'p95 ms':>8}"
    )
    print(row("without CT", without))
    print(row(f"with CT, {logs} loopback logs", with_ct))
    for label, values in (("without CT", no_scts), ("with CT", scts)):
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        print(
            f"  SCT step (7) {label}: p50 {statistics.median(values) * 1000:.1f} ms, "
            f"p95 {p95 * 1000:.1f} ms"
        )
    ca = CaHome.open(home)
    pre = ca.stores.scts.with_scts()[0][2]
    ca.close()
    return pre


def write_entries(path: Path, template: bytes, issuer: x509.Certificate, count: int) -> None:
    """`count` precertificate entries; every tenth names `issuer`, with a fresh serial."""
    tbs = remove_extension(
        x509.load_der_x509_certificate(template).tbs_certificate_bytes, CT_POISON
    )
    top = der.parse_single(tbs)
    serial = top.children()[1].content
    at = tbs.index(serial)
    ours = issuer_key_hash(issuer)
    other = b"\x11" * 32
    extra = base64.b64encode(tls.vector(template, 3) + tls.vector(b"", 3)).decode()
    stamp = int(time.time() * 1000)
    with path.open("w") as fh:
        for i in range(count):
            fresh = bytes([0x40 | secrets.randbits(6)]) + secrets.token_bytes(len(serial) - 1)
            body = tbs[:at] + fresh + tbs[at + len(serial) :]
            entry = SignedEntry.precert(ours if i % 10 == 0 else other, body)
            leaf = base64.b64encode(leaf_input(stamp + i, entry)).decode()
            fh.write(f"{leaf} {extra}\n")


def audit(home: Path, work: Path, template: bytes, count: int) -> None:
    ca = CaHome.open(home)
    issuer_der = next(
        r.cert_der for r in ca.inventory.issuers(role="issuing") if r.key_type == "ecdsa-p256"
    )
    issuer = x509.load_der_x509_certificate(issuer_der)
    entries = work / "entries"
    start = time.perf_counter()
    write_entries(entries, template, issuer, count)
    generated = time.perf_counter() - start
    start = time.perf_counter()
    with serve_logs(home / "certs/root.pem", work / "audit", 1, entries) as served:
        loaded = time.perf_counter() - start
        url = served[0][0]
        state = work / "audit-state"
        start = time.perf_counter()
        result = ct_audit.walk(
            [url],
            ct_audit.issuer_hashes_of([issuer_der]),
            state,
            facts=ct_audit.home_facts(ca.stores.scts),
        )
        walked = time.perf_counter() - start
    ca.close()
    print()
    print(f"{'CT audit':<28} {'entries':>9} {'ours':>7} {'findings':>9} {'s':>8} {'entries/s':>10}")
    print(
        f"{'walk + inventory lookups':<28} {result.entries:>9} {result.matched:>7} "
        f"{len(result.findings):>9} {walked:>8.1f} {result.entries / walked:>10.0f}"
    )
    print(f"(generating the log took {generated:.1f} s, loading it into serve-log {loaded:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=50, help="certificates per mode")
    parser.add_argument("--logs", type=int, default=3, help="loopback logs (2 or more)")
    parser.add_argument("--entries", type=int, default=1_000_000, help="entries in the audited log")
    args = parser.parse_args()
    os.environ["CERTKEEPER_PASSPHRASE"] = PASSPHRASE
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "audit").mkdir()
        home = create_home(work / "home", InitOptions(public=False), PASSPHRASE.encode())
        template = issuance(home, work, args.count, args.logs)
        if args.entries:
            audit(home, work, template, args.entries)


if __name__ == "__main__":
    main()
