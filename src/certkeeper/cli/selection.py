"""Selecting certificates from the command line: one set of options, one parser, for
every command that takes a selection (certs list, crl status, incidents, drills)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import typer

from certkeeper.certificate_filter import CertificateFilter, normalize_serial, normalize_sha256
from certkeeper.errors import InputError

# The selection options, declared once; commands take the ones that make sense for them
# and pass them to build_filter under the same names.
ISSUER = typer.Option(None, "--issuer", help="Issuing CA name.")
PROFILE = typer.Option(None, "--profile", help="Profile ID or ID:VERSION.")
CPS_VERSION = typer.Option(None, "--cps-version", help="CPS version issued under.")
ISSUED_AFTER = typer.Option(
    None, "--issued-after", help="notBefore at or after this date/time (UTC)."
)
ISSUED_BEFORE = typer.Option(None, "--issued-before", help="notBefore before this date/time (UTC).")
EXPIRING_AFTER = typer.Option(
    None, "--expiring-after", help="notAfter after this date/time (UTC): still valid then."
)
KEY_TYPE = typer.Option(None, "--key-type", help="e.g. rsa-2048, ecdsa-p256.")
DOMAIN = typer.Option(
    None, "--domain", help="A name and every name below it (example.com: not badexample.com)."
)
SERIAL = typer.Option(None, "--serial", help="Serial number in hexadecimal.")
SHA256 = typer.Option(None, "--sha256", help="SHA-256 fingerprint (hex).")
SUBSCRIBER = typer.Option(None, "--subscriber", help="Subscriber id.")
LINT_FINDING = typer.Option(
    None, "--lint-finding", help="Certificates with a stored finding of this lint id."
)
SERIALS_FILE = typer.Option(None, "--serials-file", help="File of serials, one a line.")
SHA256_FILE = typer.Option(None, "--sha256-file", help="File of SHA-256 fingerprints, one a line.")


def parse_when(option: str, text: str) -> datetime:
    """YYYY-MM-DD (midnight UTC) or an ISO 8601 time; a time without offset is UTC."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"{option}: invalid date {text!r} (use YYYY-MM-DD or an ISO 8601 time)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_profile(text: str) -> tuple[str, int | None]:
    """ID or ID:VERSION."""
    pid, sep, version = text.strip().rpartition(":")
    if not sep:
        pid, version = version, ""
    if not pid:
        raise InputError(f"--profile: invalid profile {text!r} (use ID or ID:VERSION)")
    if not sep:
        return pid, None
    if not version.isdigit() or int(version) < 1:
        raise InputError(f"--profile: invalid version in {text!r} (use ID or ID:VERSION)")
    return pid, int(version)


def read_list(path: Path, kind: str) -> tuple[str, ...]:
    """Serials or SHA-256 fingerprints, one a line; '#' comments and blank lines ignored.
    Every malformed line is reported with its number, and nothing is selected."""
    check = normalize_serial if kind == "serial" else normalize_sha256
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    values: list[str] = []
    bad: list[str] = []
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            values.append(check(text))
        except InputError:
            bad.append(f"line {number}: {text[:60]!r}")
    if bad:
        shown = "; ".join(bad[:10]) + (f"; and {len(bad) - 10} more" if len(bad) > 10 else "")
        raise InputError(f"{path}: {len(bad)} line(s) are not a {kind}: {shown}")
    if not values:
        raise InputError(f"{path}: no {kind} in the file")
    return tuple(values)


def build_filter(
    *,
    issuer: str | None = None,
    profile: str | None = None,
    cps_version: str | None = None,
    issued_after: str | None = None,
    issued_before: str | None = None,
    expiring_after: str | None = None,
    key_type: str | None = None,
    domain: str | None = None,
    serial: str | None = None,
    sha256: str | None = None,
    subscriber: str | None = None,
    lint_finding: str | None = None,
    serials_file: Path | None = None,
    sha256_file: Path | None = None,
) -> CertificateFilter:
    """The CertificateFilter the selection options describe; bad values are one line."""
    profile_id, version = parse_profile(profile) if profile is not None else (None, None)
    return CertificateFilter(
        issuer=issuer,
        profile_id=profile_id,
        profile_version=version,
        cps_version=cps_version,
        issued_after=parse_when("--issued-after", issued_after) if issued_after else None,
        issued_before=parse_when("--issued-before", issued_before) if issued_before else None,
        expiring_after=parse_when("--expiring-after", expiring_after) if expiring_after else None,
        key_type=key_type,
        domain_suffix=domain,
        serial=serial,
        sha256=sha256,
        subscriber_id=subscriber,
        lint_id=lint_finding,
        serials=read_list(serials_file, "serial") if serials_file else None,
        sha256s=read_list(sha256_file, "SHA-256 fingerprint") if sha256_file else None,
    )
