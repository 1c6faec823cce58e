"""Lint throughput: certkeeper's lints against pkilint in-process, in the same run.

Goals (REQUIREMENTS, issue 3): a subscriber certificate at least 20x faster than pkilint
with a reused validator; an OCSP response in at most 0.1 ms; a 1,000,000-entry CRL in at
most 3 s and 500 MB. Run: `.venv/bin/python benchmarks/lint.py [--crl-entries N]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import secrets
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from certkeeper.lint.catalogue import run_lints
from certkeeper.lint.context import LintContext
from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.document.crl import CrlDocument
from certkeeper.lint.document.ocsp import OcspResponseDocument
from certkeeper.lint.pkilint_adapter import PkilintLinter
from certkeeper.x509 import der

T0 = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
DER = serialization.Encoding.DER


def _per_call(fn: Callable[[], Any], seconds: float = 1.0) -> float:
    """Median seconds per call over several timed batches."""
    fn()
    batch, samples = 1, []
    while True:
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        took = time.perf_counter() - start
        if took > 0.05:
            break
        batch *= 4
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(samples) < 3:
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        samples.append((time.perf_counter() - start) / batch)
    return statistics.median(samples)


def _pki() -> tuple[Any, x509.Certificate, bytes, bytes]:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Bench"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Bench CA"),
        ]
    )
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(T0)
        .not_valid_after(T0 + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(True, None), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(T0)
        .not_valid_after(T0 + dt.timedelta(days=90) - dt.timedelta(seconds=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("www.example.com"), x509.DNSName("example.com")]
            ),
            critical=True,
        )
        .add_extension(x509.BasicConstraints(False, None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(
            x509.CertificatePolicies(
                [x509.PolicyInformation(x509.ObjectIdentifier("2.23.140.1.2.1"), None)]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier("http://ca.example.com/ca.der"),
                    )
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        [x509.UniformResourceIdentifier("http://crl.example.com/1.crl")],
                        None,
                        None,
                        None,
                    )
                ]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    response = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            leaf,
            ca,
            hashes.SHA1(),
            ocsp.OCSPCertStatus.GOOD,
            T0,
            T0 + dt.timedelta(days=4),
            None,
            None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, ca)
        .sign(ca_key, hashes.SHA256())
    )
    return ca_key, ca, leaf.public_bytes(DER), response.public_bytes(DER)


def _big_crl(ca_key: Any, ca: x509.Certificate, entries: int) -> bytes:
    """A CRL of pre-encoded entries (16-octet serial, UTCTime, reasonCode), signed once."""
    when = der.tlv(der.UTC_TIME, b"250530120000Z")
    reason = der.sequence(
        der.sequence(der.encode_oid("2.5.29.21"), der.tlv(der.OCTET_STRING, b"\x0a\x01\x04"))
    )
    rand = secrets.token_bytes(16 * entries)
    parts = []
    for i in range(entries):
        serial = b"\x01" + rand[16 * i + 1 : 16 * i + 16]
        parts.append(b"\x30\x2f\x02\x10" + serial + when + reason)
    revoked = der.sequence(b"".join(parts))
    alg = der.sequence(der.encode_oid("1.2.840.10045.4.3.2"))
    ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()).digest
    exts = der.tlv(
        0xA0,
        der.sequence(
            der.sequence(
                der.encode_oid("2.5.29.35"),
                der.tlv(der.OCTET_STRING, der.sequence(der.tlv(0x80, ski))),
            ),
            der.sequence(
                der.encode_oid("2.5.29.20"), der.tlv(der.OCTET_STRING, der.encode_integer(9))
            ),
        ),
    )
    tbs = der.sequence(
        der.encode_integer(1),
        alg,
        ca.subject.public_bytes(),
        der.tlv(der.UTC_TIME, b"250601000000Z"),
        der.tlv(der.UTC_TIME, b"250608000000Z"),
        revoked,
        exts,
    )
    return der.assemble_signed(tbs, alg, ca_key.sign(tbs, ec.ECDSA(hashes.SHA256())))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--crl-entries", type=int, default=1_000_000)
    parser.add_argument("--pkilint-crl-entries", type=int, default=2_000)
    args = parser.parse_args()

    ca_key, ca, leaf_der, ocsp_der = _pki()
    ctx = LintContext()
    pk = PkilintLinter()
    pk.warm_up()

    rows: list[tuple[str, str, str, str]] = []

    ours = _per_call(lambda: run_lints(CertificateDocument(leaf_der), ctx))
    theirs = _per_call(lambda: pk.lint_certificate(leaf_der))
    rows.append(
        (
            "subscriber certificate",
            f"{ours * 1e3:.3f} ms",
            f"{theirs * 1e3:.3f} ms",
            f"{theirs / ours:.1f}x",
        )
    )

    ctx_issuer = LintContext(issuer=ca)
    ours_i = _per_call(lambda: run_lints(CertificateDocument(leaf_der), ctx_issuer))
    rows.append(("  ... with --issuer (signature check)", f"{ours_i * 1e3:.3f} ms", "", ""))

    ours = _per_call(lambda: run_lints(OcspResponseDocument(ocsp_der), ctx))
    theirs = _per_call(lambda: pk.lint_ocsp_response(ocsp_der))
    rows.append(
        ("OCSP response", f"{ours * 1e3:.3f} ms", f"{theirs * 1e3:.3f} ms", f"{theirs / ours:.1f}x")
    )

    small = _big_crl(ca_key, ca, args.pkilint_crl_entries)
    ours = _per_call(lambda: run_lints(CrlDocument(small), ctx), seconds=0.5)
    theirs = _per_call(lambda: pk.lint_crl(small), seconds=0.5)
    rows.append(
        (
            f"CRL, {args.pkilint_crl_entries:,} entries",
            f"{ours * 1e3:.1f} ms",
            f"{theirs * 1e3:.1f} ms",
            f"{theirs / ours:.1f}x",
        )
    )

    big = _big_crl(ca_key, ca, args.crl_entries)
    start = time.perf_counter()
    findings = run_lints(CrlDocument(big), ctx)
    took = time.perf_counter() - start
    assert not [f for f in findings if f.severity >= 4], findings
    # Memory of the lint alone (the DER itself excluded), measured in a second pass.
    tracemalloc.start()
    run_lints(CrlDocument(big), ctx)
    _, lint_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rows.append(
        (
            f"CRL, {args.crl_entries:,} entries ({len(big) / 1e6:.0f} MB DER)",
            f"{took:.2f} s",
            "(not run: ~0.3 ms/entry)",
            f"lint peak {lint_peak / 1e6:.0f} MB; process RSS {_rss_mb():.0f} MB",
        )
    )

    widths = [
        max(len(r[i]) for r in [*rows, ("document", "certkeeper", "pkilint", "ratio")])
        for i in range(4)
    ]
    header = ("document", "certkeeper", "pkilint", "ratio / note")
    print(f"lint benchmark (pid {os.getpid()}, {os.cpu_count()} CPUs)")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
