"""certkeeper's lints on public corpora, with pkilint on the same files in the same run.

Goals (issue 18): on pkilint's TLS BR suite, at least 95 % of the failing cases flagged
by certkeeper alone and no false positive that is not listed with a reason; on zlint's
cabf_br and rfc Error cases, at least 90 % with a certkeeper finding that names the
defect; certkeeper at least 20x pkilint per certificate.

"Flagged" counts a legacy finding (a rule newer than the certificate, which pkilint's
suite mostly applies to every certificate); the real-defect row leaves those out, and
only a real defect on a case pkilint expects to pass is a false positive. pkilint
has no mapping to zlint's lint names, so on zlint's cases it is measured by whether it
reports any error for the file; certkeeper's figure on that measure is shown too.
Run: `.venv/bin/python benchmarks/lint_corpora.py [--rounds N]`.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "lint"))

from corpora import (
    Case,
    certkeeper_findings,
    errors,
    listed_disagreements,
    pkilint_cases,
    verdict,
    zlint_cases,
)

from certkeeper.lint.catalogue import run_lints
from certkeeper.lint.context import LintContext
from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.engine import DocType, Finding
from certkeeper.lint.pkilint_adapter import PkilintLinter


def _pct(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.1f} %)" if whole else "0/0"


def _pkilint_errors(pk: PkilintLinter, case: Case) -> list[Finding]:
    doc = case.document()
    if doc.doc_type is DocType.CERTIFICATE:
        return errors(pk.lint_certificate(doc.der, case.cert_type or doc.cert_type))
    if doc.doc_type is DocType.CRL:
        return errors(pk.lint_crl(doc.der))
    return errors(pk.lint_ocsp_response(doc.der))


def _timed(fn: Callable[[], object], count: int) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) / count


def _speed(pk: PkilintLinter, cases: Sequence[Case], rounds: int) -> tuple[float, float, float]:
    """Seconds per certificate, parsing included, for certkeeper and pkilint (validators
    reused, as the issuance gate does), and the median ratio. The two are timed in
    alternating rounds, so that load from elsewhere on the machine weighs on both."""
    certs = {c.pem: c for c in cases}.values()
    docs = [c.document() for c in certs]
    ders = [(d.der, d.cert_type) for d in docs if isinstance(d, CertificateDocument)]
    ctx = LintContext()

    def ours() -> None:
        for der, cert_type in ders:
            run_lints(CertificateDocument(der, cert_type), ctx)

    def theirs() -> None:
        for der, cert_type in ders:
            pk.lint_certificate(der, cert_type)

    ours()
    theirs()
    samples = []
    for _ in range(rounds):
        mine = statistics.median(_timed(ours, len(ders)) for _ in range(3))
        samples.append((mine, _timed(theirs, len(ders))))
    return (
        statistics.median(m for m, _ in samples),
        statistics.median(t for _, t in samples),
        statistics.median(t / m for m, t in samples),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating timing rounds")
    args = parser.parse_args(argv)
    # pkilint logs a traceback for each validator that cannot read a malformed field.
    logging.getLogger("pkilint").setLevel(logging.CRITICAL)
    pk = PkilintLinter()
    listed = listed_disagreements()

    pkc = pkilint_cases()
    failing = [c for c in pkc if c.expect_fail]
    clean = [c for c in pkc if not c.expect_fail]
    flagged = [c for c in failing if errors(certkeeper_findings(c))]
    real = [c for c in failing if any(not f.legacy for f in errors(certkeeper_findings(c)))]
    false_pos = [c for c in clean if verdict(c, certkeeper_findings(c)) == "false_positive"]
    unlisted = [c for c in false_pos if ("pkilint", c.name, "false_positive") not in listed]

    zc = zlint_cases()
    named = [c for c in zc if verdict(c, certkeeper_findings(c)) in (None, "legacy_only")]
    named_real = [c for c in zc if verdict(c, certkeeper_findings(c)) is None]
    ours_any = [c for c in zc if errors(certkeeper_findings(c))]
    pk_any = [c for c in zc if _pkilint_errors(pk, c)]

    ours_s, pk_s, ratio = _speed(pk, pkc + zc, args.rounds)

    rows = [
        (
            "pkilint TLS BR suite: failing cases flagged",
            _pct(len(flagged), len(failing)),
            ">= 95 %",
        ),
        ("  of which by a real defect (no legacy finding)", _pct(len(real), len(failing)), ""),
        ("pkilint TLS BR suite: false positives", _pct(len(false_pos), len(clean)), "all listed"),
        ("  not listed with a reason", str(len(unlisted)), "0"),
        ("zlint cabf_br+rfc Error cases: defect named", _pct(len(named), len(zc)), ">= 90 %"),
        ("  named by a real defect (no legacy finding)", _pct(len(named_real), len(zc)), ""),
        ("zlint Error cases: any error, certkeeper", _pct(len(ours_any), len(zc)), ""),
        ("zlint Error cases: any error, pkilint", _pct(len(pk_any), len(zc)), ""),
        ("listed disagreements", str(len(listed)), ""),
        ("certkeeper per certificate", f"{ours_s * 1e3:.3f} ms", ""),
        ("pkilint per certificate", f"{pk_s * 1e3:.3f} ms", ""),
        ("speed-up (median of alternating rounds)", f"{ratio:.1f}x", ">= 20x"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure':<{width}} | result | goal |")
    print(f"|{'-' * (width + 2)}|---|---|")
    for name, value, goal in rows:
        print(f"| {name:<{width}} | {value} | {goal} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
