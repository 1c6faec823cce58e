"""`cps check`: a CPS's profile tables against the profiles and the issued certificates.

Seed 000: CPS 3.2.4 said keyEncipherment was absent from RSA subscriber certificates;
the profile asserted it, and so did every certificate issued under that CPS. Nothing
compared the three. This does: each profile description the CPS contains is compared
with the stored profile version(s) it covers and with every final certificate issued
under the CPS version in question, grouped by profile version. Each broken claim is one
line with counts:

    CPS §7.1.2.7 "tls-dv-rsa" RSA: keyEncipherment stated absent; profile tls-dv-rsa v3
    includes it; 1,204 certificates issued under CPS 1.4 assert it

Certificates are counted once each (the inventory holds one row per SHA-256) and
precertificates never. Identical certificates are reduced to one `Facts` value first,
so the comparison runs once per distinct shape, not once per certificate.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from cryptography import x509

from certkeeper.certificate_filter import CertificateFilter
from certkeeper.errors import InputError
from certkeeper.lint.document.values import Malformed, decode_oid, parse_extensions
from certkeeper.profiles.cps_claims import (
    KEY_USAGE_BITS,
    Contradiction,
    Facts,
    ProfileClaims,
    algorithm_of,
    contradictions,
    facts_from_profile,
)
from certkeeper.profiles.cps_parse import CpsDocument, parse_cps
from certkeeper.profiles.schema import Profile
from certkeeper.x509.der import DerError, children, header
from certkeeper.x509.oids import OID_CERT_POLICIES, OID_EKU, OID_KEY_USAGE

if TYPE_CHECKING:
    from certkeeper.store.inventory import Inventory
    from certkeeper.store.records import CertificateRecord

ALL_VERSIONS = "all"  # --cps-version all: certificates of every CPS version

# (profile id, profile version, CPS version) -> distinct certificate shapes and their counts
CertificateGroups = Mapping[tuple[str, int, str], Counter[Facts]]

_KU_ATTRS = (
    ("digitalSignature", "digital_signature"),
    ("nonRepudiation", "content_commitment"),
    ("keyEncipherment", "key_encipherment"),
    ("dataEncipherment", "data_encipherment"),
    ("keyAgreement", "key_agreement"),
    ("keyCertSign", "key_cert_sign"),
    ("cRLSign", "crl_sign"),
)


@dataclass(frozen=True)
class CpsFinding:
    """One contradiction: a claim, the profile version it was compared with, the counts."""

    text: str
    claims: str  # the CPS part, e.g. 'CPS §7.1.2.7 "tls-dv-rsa" RSA'
    claim: str
    profile: str | None  # e.g. "tls-dv-rsa v3"
    profile_contradicts: bool
    certificates: dict[str, int] = field(default_factory=dict)  # CPS version -> count

    def to_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "cps_part": self.claims,
            "claim": self.claim,
            "profile": self.profile,
            "profile_contradicts": self.profile_contradicts,
            "certificates": self.certificates,
        }


@dataclass
class CpsReport:
    cps_version: str | None  # the version whose certificates were compared; None: all
    parts: int  # profile descriptions found in the CPS
    certificates: int  # certificates compared
    findings: list[CpsFinding] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def facts_from_certificate(rec: CertificateRecord) -> Facts | None:
    """What one issued certificate contains; None if its DER cannot be read."""
    seconds = int((rec.not_after - rec.not_before).total_seconds()) + 1
    return facts_from_der(rec.der, rec.key_type, seconds)


def facts_from_der(der: bytes, key_type: str, validity_seconds: int) -> Facts | None:
    """The extensions are read straight from the DER (a few slices per certificate);
    `cryptography` is the fallback for any shape the walk does not expect."""
    try:
        found = _walk_extensions(der)
    except (DerError, Malformed, IndexError, ValueError):
        found = None
    if found is None:
        found = _crypto_extensions(der)
        if found is None:
            return None
    extensions, ku, eku, policies = found
    return Facts(
        extensions=extensions,
        key_usage=ku,
        eku=eku,
        policies=policies,
        key_types=frozenset({key_type}),
        validity_seconds=validity_seconds,
    )


_Shape = tuple[frozenset[tuple[str, bool]], frozenset[str], frozenset[str], frozenset[str]]


def _walk_extensions(der: bytes) -> _Shape | None:
    _, cs, ce = header(der, 0, len(der))
    _, tcs, tce = header(der, cs, ce)
    span = None
    for tag, c, e in children(der, tcs, tce):
        if tag == 0xA3:
            xtag, xcs, xce = header(der, c, e)
            if xtag != 0x30:
                return None
            span = (xcs, xce)
    if span is None:
        return frozenset(), frozenset(), frozenset(), frozenset()
    exts, problems = parse_extensions(der, span[0], span[1], "extensions")
    if problems:
        return None
    ku: frozenset[str] = frozenset()
    eku: frozenset[str] = frozenset()
    policies: frozenset[str] = frozenset()
    for ext in exts:
        v = ext.value
        if ext.oid == OID_KEY_USAGE:
            tag, vs, ve = header(v, 0, len(v))
            if tag != 0x03 or ve == vs:
                return None
            bits = v[vs + 1 : ve]
            ku = frozenset(
                name
                for i, name in enumerate(KEY_USAGE_BITS)
                if i // 8 < len(bits) and bits[i // 8] & (0x80 >> (i % 8))
            )
        elif ext.oid == OID_EKU:
            _, vs, ve = header(v, 0, len(v))
            eku = frozenset(decode_oid(v[c:e]) for t, c, e in children(v, vs, ve) if t == 0x06)
        elif ext.oid == OID_CERT_POLICIES:
            _, vs, ve = header(v, 0, len(v))
            out = set()
            for _t, c, e in children(v, vs, ve):
                otag, oc, oe = header(v, c, e)
                if otag != 0x06:
                    return None
                out.add(decode_oid(v[oc:oe]))
            policies = frozenset(out)
    return frozenset((e.oid, e.critical) for e in exts), ku, eku, policies


def _crypto_extensions(der: bytes) -> _Shape | None:
    try:
        cert = x509.load_der_x509_certificate(der)
        exts = list(cert.extensions)
    except ValueError:
        return None
    ku: set[str] = set()
    eku: frozenset[str] = frozenset()
    policies: frozenset[str] = frozenset()
    for ext in exts:
        value = ext.value
        if isinstance(value, x509.KeyUsage):
            ku = {bit for bit, attr in _KU_ATTRS if getattr(value, attr)}
            if value.key_agreement:
                ku |= {"encipherOnly"} if value.encipher_only else set()
                ku |= {"decipherOnly"} if value.decipher_only else set()
        elif isinstance(value, x509.ExtendedKeyUsage):
            eku = frozenset(o.dotted_string for o in value)
        elif isinstance(value, x509.CertificatePolicies):
            policies = frozenset(p.policy_identifier.dotted_string for p in value)
    extensions = frozenset((e.oid.dotted_string, e.critical) for e in exts)
    return extensions, frozenset(ku), eku, policies


GroupKey = tuple[str, int, str]  # profile id, profile version, CPS version
_Work = list[tuple[GroupKey, bytes, str, int]]  # (group, DER, key type, validity seconds)
CHUNK = 2000


def _shapes(chunk: _Work) -> tuple[dict[GroupKey, Counter[Facts]], int]:
    """One chunk of certificates reduced to counted shapes (runs in a worker process)."""
    groups: dict[GroupKey, Counter[Facts]] = {}
    unreadable = 0
    for key, der, key_type, seconds in chunk:
        facts = facts_from_der(der, key_type, seconds)
        if facts is None:
            unreadable += 1
        else:
            groups.setdefault(key, Counter())[facts] += 1
    return groups, unreadable


def _third_person(verb: str) -> str:
    first, _, rest = verb.partition(" ")
    if first == "have":
        first = "has"
    elif first == "are":
        first = "is"
    else:
        first += "s"
    return f"{first} {rest}".strip()


def _count_phrase(count: int, cps: str, verb: str) -> str:
    if count == 1:
        return f"1 certificate issued under CPS {cps} {_third_person(verb)}"
    return f"{count:,} certificates issued under CPS {cps} {verb}"


def compare(
    doc: CpsDocument,
    profiles: Mapping[str, Mapping[int, Profile]],
    groups: CertificateGroups,
    *,
    cps_version: str | None,
    current_cps_version: str | None = None,
) -> CpsReport:
    """The contradictions between `doc` and the profiles / certificate groups.

    `profiles`: every stored version of every profile. `groups` hold certificates of
    `cps_version` only (or all, when None). The latest profile version is compared too
    when the CPS is the one in force (`current_cps_version`) or no version is given."""
    report = CpsReport(
        cps_version,
        len(doc.claims),
        sum(sum(c.values()) for c in groups.values()),
        skipped=list(doc.skipped),
    )
    in_force = cps_version is None or cps_version == current_cps_version
    described: set[str] = set()
    for claims in doc.claims:
        versions = profiles.get(claims.profile_id)
        if not versions:
            continue
        described.add(claims.profile_id)
        report.findings.extend(_compare_part(claims, versions, groups, in_force))
    for pid in sorted(profiles):
        if pid in described:
            continue
        versions = profiles[pid]
        latest = max(versions)
        counts = _per_cps(groups, pid)
        if not in_force and not counts:
            continue  # neither in force nor used under the CPS version checked
        profile = versions[latest]
        detail = "; ".join(_count_phrase(n, c, "use it") for c, n in sorted(counts.items()))
        text = (
            f'CPS: profile "{pid}" ({algorithm_of(profile)}) is not described; '
            f"profile {pid} v{latest} is in force" + (f"; {detail}" if detail else "")
        )
        report.findings.append(
            CpsFinding(text, "CPS", "profile not described", f"{pid} v{latest}", True, counts)
        )
    return report


def _per_cps(groups: CertificateGroups, pid: str, version: int | None = None) -> dict[str, int]:
    out: Counter[str] = Counter()
    for (p, v, cps), shapes in groups.items():
        if p == pid and (version is None or v == version):
            out[cps] += sum(shapes.values())
    return dict(out)


def _compare_part(
    claims: ProfileClaims,
    versions: Mapping[int, Profile],
    groups: CertificateGroups,
    in_force: bool,
) -> list[CpsFinding]:
    pid = claims.profile_id
    if claims.version is not None:
        if claims.version not in versions:
            known = ", ".join(f"v{v}" for v in sorted(versions))
            text = f"{claims.label}: describes version {claims.version}; stored versions: {known}"
            return [CpsFinding(text, claims.label, "unknown profile version", None, True)]
        wanted = [claims.version]
    else:
        with_certs = {v for (p, v, _) in groups if p == pid}
        wanted = sorted(with_certs | ({max(versions)} if in_force or not with_certs else set()))
    out: list[CpsFinding] = []
    for version in wanted:
        profile = versions[version]
        label = f"{pid} v{version}"
        if claims.algorithm is not None and claims.algorithm != algorithm_of(profile):
            text = (
                f"{claims.label}: described for {claims.algorithm} keys; profile {label} "
                f"allows only {algorithm_of(profile)} keys"
            )
            out.append(CpsFinding(text, claims.label, "key algorithm", label, True))
            continue
        found: dict[tuple[str, ...], Contradiction] = {}
        by_profile = contradictions(claims, facts_from_profile(profile))
        for con in by_profile:
            found[con.key] = con
        counts: dict[tuple[str, ...], Counter[str]] = {}
        for (p, v, cps), shapes in groups.items():
            if p != pid or v != version:
                continue
            for facts, n in shapes.items():
                for con in contradictions(claims, facts):
                    found.setdefault(con.key, con)
                    counts.setdefault(con.key, Counter())[cps] += n
        profile_keys = {c.key for c in by_profile}
        order = [c.key for c in by_profile] + sorted(k for k in found if k not in profile_keys)
        for key in order:
            con = found[key]
            verdict = con.profile_verb if key in profile_keys else "agrees"
            per_cps = dict(sorted(counts.get(key, Counter()).items()))
            parts = [f"{claims.label}: {con.claim}", f"profile {label} {verdict}"]
            parts += [_count_phrase(n, cps, con.certificate_verb) for cps, n in per_cps.items()]
            out.append(
                CpsFinding(
                    "; ".join(parts), claims.label, con.claim, label, key in profile_keys, per_cps
                )
            )
    return out


def read_cps(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text (a Markdown CPS is expected)") from None


@dataclass(frozen=True)
class CheckPlan:
    """A parsed CPS, the profiles it is compared with, and the certificates in scope."""

    source: str
    doc: CpsDocument
    profiles: dict[str, dict[int, Profile]]
    cps_version: str | None  # the option, else what the CPS states, else None (all)
    certificates: int


class StoredProfiles(Protocol):
    """The profile registry's reading side: one stored version, parsed."""

    def get(self, profile_id: str, version: int) -> Profile: ...


class CpsChecker:
    """Compares a CPS with the stored profiles and the inventory's final certificates;
    `cps_version` is the one in force (`[ca] cps_version`)."""

    def __init__(self, inventory: Inventory, profiles: StoredProfiles, cps_version: str) -> None:
        self.inventory = inventory
        self.profiles = profiles
        self.cps_version = cps_version

    def plan(self, text: str, source: str, cps_version: str | None = None) -> CheckPlan:
        """Parse the CPS and size the work; a CPS with no profile table is an InputError."""
        profiles = self.stored_profiles()
        doc = parse_cps(text, {pid: algorithm_of(v[max(v)]) for pid, v in profiles.items() if v})
        if not doc.claims:
            known = ", ".join(sorted(profiles)) or "none"
            raise InputError(
                f"{source}: no table describes a known certificate profile (profiles: {known}); "
                "name the profile id in the heading above its tables or in a 'Profile' row"
            )
        scope = None if cps_version == ALL_VERSIONS else (cps_version or doc.cps_version)
        total = self.inventory.count_certificates(CertificateFilter(cps_version=scope))
        return CheckPlan(source, doc, profiles, scope, total)

    def run(
        self,
        job: CheckPlan,
        advance: Callable[[int], None] | None = None,
        workers: int = 1,
    ) -> CpsReport:
        """Compare the planned CPS with the profiles and every certificate in scope."""
        groups, unreadable = self.certificate_groups(job.cps_version, advance, workers)
        report = compare(
            job.doc,
            job.profiles,
            groups,
            cps_version=job.cps_version,
            current_cps_version=self.cps_version,
        )
        if unreadable:
            report.skipped.append(
                f"{unreadable} certificates could not be parsed and were not compared"
            )
        return report

    def stored_profiles(self) -> dict[str, dict[int, Profile]]:
        """Every stored version of every profile, parsed."""
        out: dict[str, dict[int, Profile]] = {}
        for pid, version, _ in self.inventory.profile_versions():
            out.setdefault(pid, {})[version] = self.profiles.get(pid, version)
        return out

    def certificate_groups(
        self,
        cps_version: str | None,
        advance: Callable[[int], None] | None = None,
        workers: int = 1,
    ) -> tuple[dict[GroupKey, Counter[Facts]], int]:
        """Every final certificate (under `cps_version`, or all) reduced to counted shapes,
        and how many could not be parsed. With `workers` > 1 the DER is parsed in that many
        processes while this one streams the next pages from the inventory."""
        groups: dict[GroupKey, Counter[Facts]] = {}
        unreadable = 0

        def merge(part: tuple[dict[GroupKey, Counter[Facts]], int], size: int) -> None:
            nonlocal unreadable
            for key, shapes in part[0].items():
                groups.setdefault(key, Counter()).update(shapes)
            unreadable += part[1]
            if advance is not None:
                advance(size)

        if workers <= 1:
            for chunk in self._work(cps_version):
                merge(_shapes(chunk), len(chunk))
            return groups, unreadable
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            pending: deque[tuple[Future[tuple[dict[GroupKey, Counter[Facts]], int]], int]] = deque()
            for chunk in self._work(cps_version):
                pending.append((pool.submit(_shapes, chunk), len(chunk)))
                while len(pending) > 2 * workers:  # bounded: the inventory may be huge
                    future, size = pending.popleft()
                    merge(future.result(), size)
            while pending:
                future, size = pending.popleft()
                merge(future.result(), size)
        return groups, unreadable

    def _work(self, cps_version: str | None) -> Iterator[_Work]:
        chunk: _Work = []
        for rec in self.inventory.list_certificates(CertificateFilter(cps_version=cps_version)):
            seconds = int((rec.not_after - rec.not_before).total_seconds()) + 1
            chunk.append(
                (
                    (rec.profile_id, rec.profile_version, rec.cps_version),
                    rec.der,
                    rec.key_type,
                    seconds,
                )
            )
            if len(chunk) == CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
