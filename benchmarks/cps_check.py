"""cps check: reducing issued certificates to counted shapes and comparing them with a CPS.

Seed 000's CPS covered tens of millions of certificates, so the check must scale with the
inventory. This signs D distinct certificates shaped like issuance makes them (the
tls-dv-rsa profile's extensions, keyEncipherment asserted), streams N records drawn from
them, and times the two steps of `audit.cps_check`: parsing each DER into `Facts` and
counting identical shapes, then comparing the counted shapes with a CPS that says
keyEncipherment is absent. The inventory's paging is not timed here.

    .venv/bin/python benchmarks/cps_check.py [--certificates N] [--distinct D]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from certkeeper.audit.cps_check import compare, facts_from_certificate
from certkeeper.ca.profile_registry import builtin_profile_sources
from certkeeper.profiles.cps import render_cps
from certkeeper.profiles.cps_claims import Facts
from certkeeper.profiles.cps_parse import parse_cps
from certkeeper.profiles.schema import parse_profile
from certkeeper.store.records import CertificateRecord

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def certificate(
    serial: int, issuer_key: ec.EllipticCurvePrivateKey, key: rsa.RSAPrivateKey
) -> bytes:
    name = f"host{serial}.example.com"
    builder = (
        x509.CertificateBuilder()
        .serial_number(serial)
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Bench CA")]))
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .public_key(key.public_key())
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=90) - timedelta(seconds=1))
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier("http://pki.example.com/ocsp"),
                    )
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.CertificatePolicies(
                [x509.PolicyInformation(x509.ObjectIdentifier("2.23.140.1.2.1"), None)]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        [
                            x509.UniformResourceIdentifier(
                                f"http://pki.example.com/crl/{serial % 16}.crl"
                            )
                        ],
                        None,
                        None,
                        None,
                    )
                ]
            ),
            critical=False,
        )
    )
    from cryptography.hazmat.primitives.serialization import Encoding

    return builder.sign(issuer_key, hashes.SHA256()).public_bytes(Encoding.DER)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--certificates", type=int, default=200_000)
    parser.add_argument("--distinct", type=int, default=2_000)
    args = parser.parse_args()
    issuer_key = ec.generate_private_key(ec.SECP256R1())
    key = rsa.generate_private_key(65537, 2048)
    ders = [certificate(i + 1, issuer_key, key) for i in range(args.distinct)]
    records = [
        CertificateRecord(
            serial=format(i + 1, "x"),
            issuer_id=1,
            der=ders[i % len(ders)],
            sha256="",
            sha1="",
            not_before=NOW,
            not_after=NOW + timedelta(days=90) - timedelta(seconds=1),
            key_type="rsa-2048",
            profile_id="tls-dv-rsa",
            profile_version=1,
            cps_version="1.0",
            subscriber_id=None,
            crl_shard=0,
            subject_cn=None,
            issued_at=NOW,
            names=(),
        )
        for i in range(args.certificates)
    ]
    profile = parse_profile(
        builtin_profile_sources()["tls-dv-rsa.toml"], "bench", version=1, today=NOW.date()
    )
    text = render_cps([profile], cps_version="1.0").replace(
        "| keyEncipherment | MUST |", "| keyEncipherment | MUST NOT |"
    )
    doc = parse_cps(text, ["tls-dv-rsa"])

    wall, cpu = time.perf_counter(), time.process_time()
    shapes: Counter[Facts] = Counter()
    for rec in records:
        facts = facts_from_certificate(rec)
        assert facts is not None
        shapes[facts] += 1
    parse_wall, parse_cpu = time.perf_counter() - wall, time.process_time() - cpu

    wall, cpu = time.perf_counter(), time.process_time()
    report = compare(
        doc,
        {"tls-dv-rsa": {1: profile}},
        {("tls-dv-rsa", 1, "1.0"): shapes},
        cps_version="1.0",
        current_cps_version="1.0",
    )
    compare_wall, compare_cpu = time.perf_counter() - wall, time.process_time() - cpu
    (finding,) = report.findings
    assert finding.certificates == {"1.0": args.certificates}, finding.text

    n = args.certificates
    print(f"{n:,} certificates ({args.distinct:,} distinct DER), {len(shapes)} distinct shapes")
    print(f"{'step':<36} {'wall s':>8} {'cpu s':>8} {'certs/cpu s':>12}")
    rate = n / parse_cpu
    print(
        f"{'parse DER into counted shapes':<36} {parse_wall:>8.2f} {parse_cpu:>8.2f} {rate:>12,.0f}"
    )
    print(f"{'compare shapes with the CPS':<36} {compare_wall:>8.3f} {compare_cpu:>8.3f} {'':>12}")
    print(finding.text)


if __name__ == "__main__":
    main()
