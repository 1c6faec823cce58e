"""CT audit (seed 003): what the logs say an issuer signed, against what is known.

Walks each log's entries (resumable: the position per log is saved after every batch)
and keeps those of the audited issuers: precertificates by the issuer key hash the log
signed, certificates by the key of the first chain certificate. With a CA home, every
such entry is checked against the inventory: a serial the inventory does not know, a
serial with no precertificate or no OCSP status, a logged precertificate that differs
from the stored one. Without one (another CA: `--issuer` only) the entries are written
to a directory that `certkeeper audit coverage --certs` then asks the CA's responder
and CRLs about, which is how an outsider finds precertificates with no status.

`check_embedded` is the other direction: every stored certificate with SCTs has SCTs
that verify against the log list's keys and entries that the logs prove included
under a signed tree head.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from certkeeper.ct import merkle, tls
from certkeeper.ct.client import LogClient, LogError, TreeHead
from certkeeper.ct.entries import LoggedEntry, sct_leaf_hash
from certkeeper.ct.loglist import LogList
from certkeeper.ct.sct import (
    SctError,
    SignatureType,
    decode_digitally_signed,
    decode_sct_list,
    log_key,
    precert_entry,
    verify_sct,
    verify_signature,
)
from certkeeper.ct.tls import TlsDecodeError
from certkeeper.store.inventory import Inventory
from certkeeper.store.scts import SctStore, SerialFacts
from certkeeper.x509 import der


@dataclass(frozen=True)
class CtFinding:
    kind: str  # unknown-serial | no-precertificate | no-status | differs | sct-invalid | not-in-log
    serial: str
    log: str
    index: int | None
    detail: str


@dataclass
class LogProgress:
    url: str
    next_index: int = 0
    tree_size: int = 0
    matched: int = 0


@dataclass
class WalkState:
    """Saved in `state_dir/state.json` after every batch; findings go to findings.jsonl."""

    logs: dict[str, LogProgress] = field(default_factory=dict)

    @staticmethod
    def load(state_dir: Path) -> WalkState:
        path = state_dir / "state.json"
        if not path.exists():
            return WalkState()
        doc = json.loads(path.read_text())
        return WalkState({u: LogProgress(**p) for u, p in doc["logs"].items()})

    def save(self, state_dir: Path) -> None:
        tmp = state_dir / "state.json.tmp"
        tmp.write_text(json.dumps({"logs": {u: asdict(p) for u, p in self.logs.items()}}))
        tmp.replace(state_dir / "state.json")


def spki_hash(cert: x509.Certificate) -> bytes:
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).digest()


def entry_issuer_hash(entry: LoggedEntry) -> bytes | None:
    if entry.issuer_key_hash is not None:
        return entry.issuer_key_hash
    if not entry.chain:
        return None
    try:
        return spki_hash(x509.load_der_x509_certificate(entry.chain[0]))
    except ValueError:
        return None


def entry_serial(entry: LoggedEntry) -> str:
    """The serial in what the log signed (the TBS for a precertificate)."""
    if entry.precertificate:
        tbs = der.parse_single(tls.Reader(entry.entry.body[32:], "tbs").vector(3))
        kids = tbs.children()
        field_ = kids[1] if kids[0].tag == 0xA0 else kids[0]
        return format(der.decode_integer(field_.content), "x")
    return format(x509.load_der_x509_certificate(entry.der).serial_number, "x")


# Serials -> what the inventory knows of them (only known serials are returned).
Facts = Callable[[Sequence[str]], Mapping[str, SerialFacts]]


def judge(entry: LoggedEntry, serial: str, facts: SerialFacts | None, log: str) -> list[CtFinding]:
    what = "precertificate" if entry.precertificate else "certificate"
    if facts is None:
        return [
            CtFinding(
                "unknown-serial",
                serial,
                log,
                entry.index,
                f"logged {what} of our issuer with a serial the inventory never assigned",
            )
        ]
    out = []
    if facts.precertificate_sha256 is None:
        out.append(
            CtFinding(
                "no-precertificate",
                serial,
                log,
                entry.index,
                f"logged {what}; the inventory's serial is {facts.state} with no precertificate",
            )
        )
    if facts.ocsp_status is None:
        out.append(
            CtFinding("no-status", serial, log, entry.index, f"logged {what} has no OCSP status")
        )
    sha = hashlib.sha256(entry.der).hexdigest()
    known = facts.precertificate_sha256 if entry.precertificate else facts.certificate_sha256
    if known is not None and known != sha:
        out.append(
            CtFinding(
                "differs",
                serial,
                log,
                entry.index,
                f"logged {what} {sha} is not the stored one {known}",
            )
        )
    return out


@dataclass
class WalkResult:
    entries: int = 0  # entries read in this run
    matched: int = 0  # of the audited issuers, in this run
    findings: list[CtFinding] = field(default_factory=list)


def walk(
    urls: Sequence[str],
    issuer_hashes: set[bytes],
    state_dir: Path,
    *,
    facts: Facts | None = None,
    out_dir: Path | None = None,
    batch: int = 1000,
    advance: Callable[[int], None] | None = None,
) -> WalkResult:
    """Walk every log from where the last run stopped up to its current tree head."""
    state_dir.mkdir(parents=True, exist_ok=True)
    state = WalkState.load(state_dir)
    result = WalkResult()
    heads: dict[str, TreeHead] = {}
    for url in urls:
        heads[url] = LogClient(url).tree_head()
        progress = state.logs.setdefault(url, LogProgress(url))
        progress.tree_size = heads[url].tree_size
    with (state_dir / "findings.jsonl").open("a") as findings_file:
        for log_no, url in enumerate(urls):
            progress = state.logs[url]
            client = LogClient(url)
            pending: list[tuple[LoggedEntry, str]] = []
            reported = progress.next_index
            for entry in client.entries(progress.next_index, progress.tree_size, batch):
                result.entries += 1
                if entry_issuer_hash(entry) in issuer_hashes:
                    serial = entry_serial(entry)
                    pending.append((entry, serial))
                    if out_dir is not None:
                        kind = "precert" if entry.precertificate else "cert"
                        (out_dir / f"{kind}-{serial}-log{log_no}-{entry.index}.der").write_bytes(
                            entry.der
                        )
                progress.next_index = entry.index + 1
                if progress.next_index % batch == 0 or progress.next_index == progress.tree_size:
                    _flush(pending, facts, url, progress, result, findings_file)
                    pending = []
                    findings_file.flush()  # findings on disk before the position moves on
                    state.save(state_dir)
                    if advance is not None:
                        advance(progress.next_index - reported)
                    reported = progress.next_index
            _flush(pending, facts, url, progress, result, findings_file)
            state.save(state_dir)
    return result


def _flush(
    pending: list[tuple[LoggedEntry, str]],
    facts: Facts | None,
    url: str,
    progress: LogProgress,
    result: WalkResult,
    findings_file: object,
) -> None:
    if not pending:
        return
    progress.matched += len(pending)
    result.matched += len(pending)
    if facts is None:
        return
    known = facts([s for _, s in pending])
    for entry, serial in pending:
        for finding in judge(entry, serial, known.get(serial), url):
            result.findings.append(finding)
            findings_file.write(json.dumps(asdict(finding)) + "\n")  # type: ignore[attr-defined]


def verify_tree_head(head: TreeHead, key_der: bytes) -> None:
    """SctError unless the log's key signed this tree head (RFC 6962 3.5)."""
    data = (
        tls.uint(0, 1)
        + tls.uint(SignatureType.TREE_HASH, 1)
        + tls.uint(head.timestamp, 8)
        + tls.uint(head.tree_size, 8)
        + head.root_hash
    )
    hash_alg, sig_alg, sig = decode_digitally_signed(head.signature)
    verify_signature(log_key(key_der), hash_alg, sig_alg, sig, data)


def check_embedded(
    certificates: Iterable[tuple[str, bytes, bytes, bytes]], loglist: LogList
) -> list[CtFinding]:
    """(serial, certificate, precertificate, issuer) with embedded SCTs: each SCT
    verifies and its entry is in its log under the current tree head."""
    findings: list[CtFinding] = []
    heads: dict[str, TreeHead] = {}
    for serial, cert_der, pre_der, issuer_der in certificates:
        cert = x509.load_der_x509_certificate(cert_der)
        issuer = x509.load_der_x509_certificate(issuer_der)
        try:
            ext = cert.extensions.get_extension_for_class(
                x509.PrecertificateSignedCertificateTimestamps
            )
            scts = decode_sct_list(der.parse_single(ext.value.public_bytes()).content)
        except (x509.ExtensionNotFound, TlsDecodeError, ValueError) as exc:
            findings.append(
                CtFinding("sct-invalid", serial, "", None, f"no readable SCT list: {exc}")
            )
            continue
        entry = precert_entry(pre_der, issuer)
        for sct in scts:
            log = loglist.by_id(sct.log_id)
            if log is None:
                findings.append(
                    CtFinding(
                        "sct-invalid", serial, sct.log_id.hex(), None, "log not in the log list"
                    )
                )
                continue
            try:
                verify_sct(sct, log.key, entry)
            except SctError as exc:
                findings.append(CtFinding("sct-invalid", serial, log.url, None, str(exc)))
                continue
            try:
                head = heads.get(log.url)
                if head is None:
                    fetched = LogClient(log.url).tree_head()
                    verify_tree_head(fetched, log.key)
                    head = heads[log.url] = fetched
                leaf = sct_leaf_hash(sct, entry)
                index, path = LogClient(log.url).proof(leaf, head.tree_size)
                if merkle.root_from_path(index, head.tree_size, leaf, path) != head.root_hash:
                    raise ValueError("the inclusion proof does not lead to the tree head")
            except (LogError, ValueError, SctError) as exc:
                if head is not None and head.timestamp < sct.timestamp + log.mmd * 1000:
                    continue  # still within the log's maximum merge delay
                findings.append(CtFinding("not-in-log", serial, log.url, None, str(exc)))
    return findings


def remaining(urls: Sequence[str], state_dir: Path) -> int:
    """Entries the next `walk` will read (for the progress bar)."""
    state = WalkState.load(state_dir)
    total = 0
    for url in urls:
        done = state.logs[url].next_index if url in state.logs else 0
        total += max(0, LogClient(url).tree_head().tree_size - done)
    return total


def issuer_hashes_of(ders: Iterable[bytes]) -> set[bytes]:
    return {spki_hash(x509.load_der_x509_certificate(d)) for d in ders}


def home_facts(store: SctStore) -> Facts:
    """What the CA home's inventory knows, as `walk` asks for it."""
    return store.facts


def home_embedded(inventory: Inventory, scts: SctStore, loglist: LogList) -> list[CtFinding]:
    """`check_embedded` over every certificate of a CA home stored with SCTs."""
    issuers = {rec.id: rec.cert_der for rec in inventory.issuers()}
    rows = scts.with_scts()
    return check_embedded(((s, c, p, issuers[i]) for s, c, p, i in rows), loglist)
