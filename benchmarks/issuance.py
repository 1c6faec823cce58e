"""End-to-end issuance throughput: serial, linted precertificate, final certificate,
linted, stored; for P-256 and RSA-2048 issuers, with the full two-linter gate and with
certkeeper's linter only. Prints the time split by step (one process) and throughput
using every core (one worker process per core).

    .venv/bin/python benchmarks/issuance.py [--count N] [--workers W]

Goal (issue: foundation): at least 150 certificates/s with the full gate on 2 cores.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certkeeper.ca.home import CaHome, InitOptions, create_home
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.service import IssuanceService, IssueRequest
from certkeeper.lint.gate import LintGate
from certkeeper.wiring import issuance_service

PASSPHRASE = "benchmark"
CASES = (("tls-dv-ecdsa", "ecdsa-p256"), ("tls-dv-rsa", "rsa-2048"))


def make_csrs(kind: str, count: int, prefix: str) -> list[bytes]:
    """CSRs with distinct names; RSA keys are reused (generation is not issuance)."""
    keys = [
        rsa.generate_private_key(65537, 2048)
        if kind.startswith("rsa")
        else ec.generate_private_key(ec.SECP256R1())
        for _ in range(4 if kind.startswith("rsa") else 16)
    ]
    out = []
    for i in range(count):
        name = f"{prefix}{i}.bench.example.com"
        builder = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([]))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        )
        out.append(
            builder.sign(keys[i % len(keys)], hashes.SHA256()).public_bytes(
                serialization.Encoding.DER
            )
        )
    return out


def timed_single(
    home: Path, profile: str, csrs: list[bytes], pkilint: bool
) -> tuple[float, dict[str, float]]:
    """One process; returns (seconds, seconds per step) over all CSRs."""
    ca = CaHome.open(home)
    split: dict[str, float] = defaultdict(float)
    mark = {"step": "parse_csr", "t": 0.0}

    def on_step(name: str) -> None:
        now = time.perf_counter()
        split[mark["step"]] += now - mark["t"]
        mark.update(step=name, t=now)

    service = issuance_service(ca, gate=LintGate(use_pkilint=pkilint), on_step=on_step)
    service.issue(IssueRequest(load_csr(csrs[0]), profile))  # warm-up: validators, keys
    split.clear()
    start = time.perf_counter()
    for der in csrs[1:]:
        mark.update(step="parse_csr", t=time.perf_counter())
        service.issue(IssueRequest(load_csr(der), profile))
        split[mark["step"]] += time.perf_counter() - mark["t"]
    elapsed = time.perf_counter() - start
    ca.close()
    return elapsed, dict(split)


_state: dict[str, object] = {}


def _worker_init(home: str, profile: str, pkilint: bool, warm: bytes) -> None:
    ca = CaHome.open(Path(home))
    service = issuance_service(ca, gate=LintGate(use_pkilint=pkilint))
    service.issue(IssueRequest(load_csr(warm), profile))
    _state.update(service=service, profile=profile)


def _worker_issue(der: bytes) -> str:
    service = _state["service"]
    assert isinstance(service, IssuanceService)
    return service.issue(IssueRequest(load_csr(der), str(_state["profile"]))).serial


def timed_parallel(
    home: Path, profile: str, csrs: list[bytes], pkilint: bool, workers: int
) -> float:
    ctx = multiprocessing.get_context("fork")
    warm = csrs[:workers]
    pool = ctx.Pool(
        workers, initializer=_worker_init, initargs=(str(home), profile, pkilint, warm[0])
    )
    try:
        pool.map(_worker_issue, warm, chunksize=1)  # every worker initialised before timing
        start = time.perf_counter()
        pool.map(_worker_issue, csrs[workers:], chunksize=8)
        return time.perf_counter() - start
    finally:
        pool.close()
        pool.join()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=600, help="certificates per case")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    os.environ["CERTKEEPER_PASSPHRASE"] = PASSPHRASE

    rows = []
    splits = {}
    with tempfile.TemporaryDirectory() as tmp:
        # Non-public: the benchmark measures the issuance order, not DNS lookups.
        home = create_home(Path(tmp) / "home", InitOptions(public=False), PASSPHRASE.encode())
        for profile, kind in CASES:
            for pkilint in (True, False):
                gate = "certkeeper + pkilint" if pkilint else "certkeeper only"
                tag = f"{kind[:3]}{int(pkilint)}"
                single = make_csrs(kind, args.count // 3 + 1, f"s{tag}-")
                seconds, split = timed_single(home, profile, single, pkilint)
                n = len(single) - 1
                rows.append((kind, gate, 1, n, seconds, n / seconds))
                splits[(kind, gate)] = {k: v / n * 1000 for k, v in split.items()}
                many = make_csrs(kind, args.count + args.workers, f"p{tag}-")
                seconds = timed_parallel(home, profile, many, pkilint, args.workers)
                n = len(many) - args.workers
                rows.append((kind, gate, args.workers, n, seconds, n / seconds))

    print(f"\nIssuance throughput (end to end, stored in SQLite), {os.cpu_count()} cores")
    print(
        f"{'issuer key':<11} {'gate':<21} {'procs':>5} {'certs':>6} {'seconds':>8} {'certs/s':>8}"
    )
    for kind, gate, procs, n, seconds, rate in rows:
        print(f"{kind:<11} {gate:<21} {procs:>5} {n:>6} {seconds:>8.2f} {rate:>8.1f}")
    steps = [
        "parse_csr",
        "assign_serial",
        "lint_precertificate",
        "sign_ocsp",
        "sign_precertificate",
        "store_precertificate",
        "collect_scts",
        "lint_certificate",
        "sign_certificate",
        "store_certificate",
    ]
    print("\nTime per certificate by step, one process (ms)")
    header = f"{'step':<22}" + "".join(
        f"{k[0][:5] + '/' + ('both' if 'pkilint' in k[1] else 'ours'):>12}" for k in splits
    )
    print(header)
    for step in steps:
        print(f"{step:<22}" + "".join(f"{splits[k].get(step, 0.0):>12.3f}" for k in splits))
    print(f"{'total':<22}" + "".join(f"{sum(splits[k].values()):>12.3f}" for k in splits))
    print(
        "\n'lint_*' includes building the linting copy (throwaway-key signature) and both linters;"
    )
    print(
        "'sign_*' is the issuer-key signature and DER assembly; 'store_*' one SQLite transaction."
    )


if __name__ == "__main__":
    main()
