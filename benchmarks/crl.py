"""CRL generation: certkeeper's DER encoder against `cryptography` and `openssl ca`.

One million revoked entries (16-octet serials, a mix of reasons) spread over the shards
of one P-256 issuing CA are encoded, signed and written atomically; the same work is
timed with `cryptography`'s CertificateRevocationListBuilder (constructor list, linear)
and its `add_revoked_certificate` (quadratic, so on fewer entries), and `openssl ca
-gencrl` on an index of 100k revoked entries.

    .venv/bin/python benchmarks/crl.py [--entries N] [--shards S] [--crypto-entries N]
                                       [--quadratic-entries N] [--openssl-entries N]

Goal (issue 4): 1,000,000 entries across shards generated, signed and written in <= 3 s.
Grouping entries by shard is the database's WHERE clause and is not timed here.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certkeeper.crl_files import shard_path, write_atomic
from certkeeper.x509 import crl
from certkeeper.x509.signer import KEY_SPECS, KeySigner

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
BASE = "http://pki.example.com/crl"
REASONS = [crl.SUPERSEDED] * 8 + [None, crl.KEY_COMPROMISE]
CRYPTO_REASONS = {
    crl.SUPERSEDED: x509.ReasonFlags.superseded,
    crl.KEY_COMPROMISE: x509.ReasonFlags.key_compromise,
}

Row = tuple[str, datetime, int | None]


def make_issuer() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "certkeeper Benchmark"),
            x509.NameAttribute(NameOID.COMMON_NAME, "certkeeper Benchmark TLS ECDSA E1"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=30))
        .not_valid_after(NOW + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_rows(count: int, seed: int = 4) -> list[Row]:
    """Revocations as the store returns them: serial hex, time (a mass revocation spreads
    over a few hours of whole seconds), reason."""
    rng = random.Random(seed)
    times = [NOW - timedelta(seconds=s) for s in range(0, 4 * 3600, 7)]
    rows: list[Row] = []
    for _ in range(count):
        serial = rng.getrandbits(126) | (1 << 126)  # the issuance serial format
        rows.append((format(serial, "x"), rng.choice(times), rng.choice(REASONS)))
    return rows


def by_shard(rows: list[Row], shards: int) -> list[list[Row]]:
    out: list[list[Row]] = [[] for _ in range(shards)]
    for row in rows:
        out[int(row[0], 16) % shards].append(row)
    return out


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def certkeeper_publish(
    groups: list[list[Row]], key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, out: Path
) -> dict[str, float]:
    """Encode, sign and atomically write every shard; returns seconds per stage."""
    signer = KeySigner(key, KEY_SPECS["ecdsa-p256"])
    issuer = crl.CrlIssuer.from_certificate(cert.public_bytes(serialization.Encoding.DER))
    algorithm = signer.spec.algorithm_identifier()
    split = {"encode entries": 0.0, "assemble + sign": 0.0, "write (fsync, rename)": 0.0}
    total_bytes = 0
    encoder = crl.EntryEncoder()  # one per publication run, as status.crl uses it
    for shard, rows in enumerate(groups):
        t0 = time.perf_counter()
        entries = encoder.encode_rows(rows)
        t1 = time.perf_counter()
        url = f"{BASE}/bench/{shard}.crl"
        tbs = crl.encode_tbs(
            issuer, entries, NOW, NOW + timedelta(days=7), 1, algorithm, idp_uri=url
        )
        der = crl.sign_crl(tbs, signer)
        t2 = time.perf_counter()
        write_atomic(shard_path(out, "bench", shard), der)
        t3 = time.perf_counter()
        split["encode entries"] += t1 - t0
        split["assemble + sign"] += t2 - t1
        split["write (fsync, rename)"] += t3 - t2
        total_bytes += len(der)
    split["bytes"] = total_bytes
    return split


def cryptography_constructor(
    rows: list[Row], key: ec.EllipticCurvePrivateKey, cert: x509.Certificate
) -> bytes:
    revoked = []
    for serial, when, reason in rows:
        builder = x509.RevokedCertificateBuilder(int(serial, 16), when)
        if reason is not None:
            builder = builder.add_extension(x509.CRLReason(CRYPTO_REASONS[reason]), False)
        revoked.append(builder.build())
    crl_builder = x509.CertificateRevocationListBuilder(
        issuer_name=cert.subject,
        last_update=NOW,
        next_update=NOW + timedelta(days=7),
        extensions=[],
        revoked_certificates=revoked,
    )
    crl_builder = crl_builder.add_extension(x509.CRLNumber(1), False)
    return crl_builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def cryptography_incremental(
    rows: list[Row], key: ec.EllipticCurvePrivateKey, cert: x509.Certificate
) -> bytes:
    crl_builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(cert.subject)
        .last_update(NOW)
        .next_update(NOW + timedelta(days=7))
        .add_extension(x509.CRLNumber(1), False)
    )
    for serial, when, reason in rows:
        builder = x509.RevokedCertificateBuilder(int(serial, 16), when)
        if reason is not None:
            builder = builder.add_extension(x509.CRLReason(CRYPTO_REASONS[reason]), False)
        crl_builder = crl_builder.add_revoked_certificate(builder.build())
    return crl_builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


_OPENSSL_REASONS = {None: "", crl.SUPERSEDED: ",superseded", crl.KEY_COMPROMISE: ",keyCompromise"}


def openssl_gencrl(
    rows: list[Row], key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, work: Path
) -> float | None:
    """Seconds for `openssl ca -gencrl` over an index of `rows`; None without openssl."""
    exe = shutil.which("openssl")
    if exe is None:
        return None
    work.mkdir(parents=True, exist_ok=True)
    (work / "ca.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (work / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    expiry = (NOW + timedelta(days=90)).strftime("%y%m%d%H%M%SZ")
    lines = []
    for serial, when, reason in rows:
        hexserial = serial.upper()
        if len(hexserial) % 2:
            hexserial = "0" + hexserial
        stamp = when.strftime("%y%m%d%H%M%SZ") + _OPENSSL_REASONS[reason]
        lines.append(f"R\t{expiry}\t{stamp}\t{hexserial}\tunknown\t/CN=bench\n")
    (work / "index.txt").write_text("".join(lines))
    (work / "crlnumber").write_text("01\n")
    (work / "openssl.cnf").write_text(
        f"""[ ca ]
default_ca = bench
[ bench ]
dir = {work}
database = $dir/index.txt
crlnumber = $dir/crlnumber
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
default_crl_days = 7
crl_extensions = crl_ext
[ crl_ext ]
authorityKeyIdentifier = keyid:always
"""
    )
    start = time.perf_counter()
    subprocess.run(
        [exe, "ca", "-gencrl", "-config", str(work / "openssl.cnf"), "-out", str(work / "crl.der")],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--crypto-entries", type=int, default=1_000_000)
    parser.add_argument("--quadratic-entries", type=int, default=20_000)
    parser.add_argument("--openssl-entries", type=int, default=100_000)
    args = parser.parse_args()

    key, cert = make_issuer()
    rows = make_rows(args.entries)
    groups = by_shard(rows, args.shards)
    results: list[tuple[str, int, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="certkeeper-crl-bench-") as tmp:
        out = Path(tmp) / "crl"
        start = time.perf_counter()
        split = certkeeper_publish(groups, key, cert, out)
        total = time.perf_counter() - start
        per_entry = (split["bytes"] - args.shards * 300) / max(1, args.entries)
        with_reason = len(crl.encode_entry(rows[0][0], NOW, crl.SUPERSEDED))
        without = len(crl.encode_entry(rows[0][0], NOW, None))
        results.append(
            (
                f"certkeeper DER encoder, {args.shards} shards",
                args.entries,
                total,
                f"{split['bytes'] / 1e6:.1f} MB, ~{per_entry:.1f} B/entry "
                f"({with_reason} B with reasonCode, {without} B without)",
            )
        )
        for stage in ("encode entries", "assemble + sign", "write (fsync, rename)"):
            results.append((f"  {stage}", args.entries, split[stage], ""))

        n = min(args.crypto_entries, len(rows))
        seconds, _ = timed(lambda: cryptography_constructor(rows[:n], key, cert))
        results.append(("cryptography builder, revoked_certificates= list", n, seconds, "one CRL"))

        q = min(args.quadratic_entries, len(rows))
        seconds_q, _ = timed(lambda: cryptography_incremental(rows[:q], key, cert))
        half, _ = timed(lambda: cryptography_incremental(rows[: q // 2], key, cert))
        results.append(
            (
                "cryptography add_revoked_certificate",
                q,
                seconds_q,
                f"quadratic: {q // 2} took {half:.2f} s "
                f"(x{seconds_q / max(half, 1e-9):.1f} for 2x the entries)",
            )
        )

        o = min(args.openssl_entries, len(rows))
        seconds_o = openssl_gencrl(rows[:o], key, cert, Path(tmp) / "openssl")
        if seconds_o is not None:
            results.append(("openssl ca -gencrl", o, seconds_o, "one CRL, index.txt"))
            seconds_ck, _ = timed(
                lambda: certkeeper_publish([rows[:o]], key, cert, Path(tmp) / "same")
            )
            results.append(("certkeeper, same entries, one CRL", o, seconds_ck, ""))

    width = max(len(r[0]) for r in results)
    print(f"{'method':<{width}}  {'entries':>9}  {'seconds':>8}  {'entries/s':>11}  note")
    for name, count, seconds, note in results:
        rate = f"{count / seconds:,.0f}" if seconds > 0 else "-"
        print(f"{name:<{width}}  {count:>9,}  {seconds:>8.2f}  {rate:>11}  {note}")
    verdict = "meets" if total <= 3.0 else "MISSES"
    print(
        f"\ngoal: {args.entries:,} entries generated, signed and written in <= 3 s: "
        f"{total:.2f} s ({verdict})"
    )


if __name__ == "__main__":
    main()
