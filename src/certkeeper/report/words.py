"""A saved certificate selector said in plain words: the CCADB "incident heuristic".

The selector is the query that chose the affected set; the report must let a reader
who has never seen certkeeper re-create that set, so every field that is set appears
in the sentence, and nothing else does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from certkeeper.certificate_filter import CertificateFilter


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def selector_clauses(flt: CertificateFilter) -> list[str]:
    """One clause per condition, in a fixed order."""
    out: list[str] = []
    if flt.issuer is not None:
        out.append(f"issued by the CA {flt.issuer!r}")
    if flt.profile_id is not None:
        version = f" version {flt.profile_version}" if flt.profile_version is not None else ""
        out.append(f"issued under certificate profile {flt.profile_id!r}{version}")
    if flt.cps_version is not None:
        out.append(f"issued under CPS version {flt.cps_version!r}")
    if flt.issued_after is not None and flt.issued_before is not None:
        out.append(
            f"with a notBefore from {_when(flt.issued_after)} up to, but not including, "
            f"{_when(flt.issued_before)}"
        )
    elif flt.issued_after is not None:
        out.append(f"with a notBefore at or after {_when(flt.issued_after)}")
    elif flt.issued_before is not None:
        out.append(f"with a notBefore before {_when(flt.issued_before)}")
    if flt.expiring_after is not None:
        out.append(f"with a notAfter later than {_when(flt.expiring_after)}")
    if flt.key_type is not None:
        out.append(f"with a subject public key of type {flt.key_type}")
    if flt.domain_suffix is not None:
        out.append(f"naming {flt.domain_suffix} or any name under it")
    if flt.serial is not None:
        out.append(f"with serial number {flt.serial}")
    if flt.sha256 is not None:
        out.append(f"with SHA-256 fingerprint {flt.sha256}")
    if flt.subscriber_id is not None:
        out.append(f"belonging to subscriber {flt.subscriber_id!r}")
    if flt.lint_id is not None:
        out.append(f"with a recorded finding of the lint {flt.lint_id!r}")
    if flt.serials is not None:
        out.append(f"whose serial number is one of {_count(len(flt.serials), 'listed serial')}")
    if flt.sha256s is not None:
        out.append(
            f"whose SHA-256 fingerprint is one of {_count(len(flt.sha256s), 'listed fingerprint')}"
        )
    return out


def _count(n: int, noun: str) -> str:
    return f"the {n} {noun}{'' if n == 1 else 's'}"


def selector_in_words(selector: dict[str, Any], aware_at: datetime) -> str:
    """The sentence for the report, from the selector JSON saved with the incident."""
    flt = CertificateFilter.from_dict(selector)
    clauses = selector_clauses(flt)
    if not clauses:
        body = "in the inventory"
    elif len(clauses) == 1:
        body = clauses[0]
    elif len(clauses) == 2:
        body = f"{clauses[0]} and {clauses[1]}"
    else:
        body = "; ".join(clauses[:-1]) + "; and " + clauses[-1]
    return (
        f"Every certificate {body}, if it was unexpired at {_when(aware_at)} (when the CA "
        "was made aware). Certificates are counted once per SHA-256 fingerprint; "
        "precertificates without a final certificate are counted apart."
    )
