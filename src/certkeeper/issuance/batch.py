"""Batch issuance across worker processes, with a progress bar.

Each worker opens its own inventory connection and builds its linters once (pkilint's
validators take about a second to build and ~5 ms per certificate to run), then issues
the CSRs it is handed. Every CSR succeeds or fails on its own; one bad file (or one
output that cannot be written) does not stop the batch, and each failure is reported
with its file name.

A batch is resumable. The run is recorded (directory, profile, subscriber), and each
CSR (by the SHA-256 of its file) before it is issued and with its serial after; a run
killed midway is resumed by the same command, which skips every CSR it already issued
(rewriting its output file from the inventory). An item started but not recorded as
done is looked up in the inventory: a certificate of that profile, issued since the
item started, with the CSR's names and public key, is that item's. A run that ended,
whatever its failures, is finished: running the command again is a new batch.
"""

from __future__ import annotations

import hashlib
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certkeeper.config import Config
from certkeeper.errors import CertkeeperError, InputError
from certkeeper.issuance.csr import ParsedCsr
from certkeeper.issuance.output_files import check_directory, check_file, write_pem
from certkeeper.store.batches import BatchStore
from certkeeper.store.inventory import Inventory

if TYPE_CHECKING:
    from certkeeper.ca.profile_registry import ProfileRegistry
    from certkeeper.issuance.service import IssuanceService
    from certkeeper.store.stores import Stores

CSR_SUFFIXES = (".csr", ".pem", ".der", ".req")


class BatchCa(Protocol):
    """What a batch uses of a CA (a `wiring.Ca`): the parent opens the run, each worker
    process builds its own and issues through it."""

    @property
    def config(self) -> Config: ...

    @property
    def stores(self) -> Stores: ...

    @property
    def profiles(self) -> ProfileRegistry: ...

    def issuance(self) -> IssuanceService: ...

    def close(self) -> None: ...


_worker: BatchCa | None = None  # each worker process's own CA, assembled once


@dataclass
class BatchReport:
    issued: list[tuple[str, str]] = field(default_factory=list)  # (file, serial)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # issued by an earlier run
    resumed_from: datetime | None = None  # the unfinished run this one completed

    def summary(self) -> str:
        head = f"issued {len(self.issued)}, failed {len(self.failed)}"
        if self.resumed_from is not None:
            head = (
                f"resumed the batch started {self.resumed_from:%Y-%m-%d %H:%M:%SZ}: {head}, "
                f"skipped {len(self.skipped)} already issued"
            )
        lines = [head]
        lines += [f"failed: {name}: {reason}" for name, reason in self.failed]
        return "\n".join(lines)


def _init_worker(build: Callable[[Config], BatchCa], config: Config) -> None:
    global _worker
    _worker = build(config)


def _issue_one(
    path: Path, profile: str, subscriber: str | None, out: Path | None, run_id: int
) -> tuple[str, str, bool]:
    """(file name, serial, skipped): issue one CSR of run `run_id`, unless the run
    issued it already."""
    try:
        return _issue_or_skip(path, profile, subscriber, out, run_id)
    except CertkeeperError as exc:
        # Refusals carry fields (rule, problem type) their pickling would lose or break;
        # the report needs the one line, with the exit code of its kind.
        plain = CertkeeperError(str(exc))
        plain.exit_code = exc.exit_code
        raise plain from None
    except OSError as exc:
        raise CertkeeperError(f"{path.name}: {exc.strerror or exc}") from None


def _issue_or_skip(
    path: Path, profile: str, subscriber: str | None, out: Path | None, run_id: int
) -> tuple[str, str, bool]:
    from certkeeper.issuance.csr import load_csr
    from certkeeper.issuance.pem import chain_pem
    from certkeeper.issuance.service import IssueRequest

    assert _worker is not None
    ca = _worker
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    csr = load_csr(data, path.name)
    target = None if out is None else out / f"{path.stem}.pem"
    if target is not None:
        check_file(target)  # before anything is signed
    runs = ca.stores.batches
    done = _already_issued(runs, run_id, digest, csr, profile)
    if done is not None:
        if target is not None:
            write_pem(target, _stored_chain(ca.stores.inventory, done), done)
        return path.name, done, True
    runs.begin_item(run_id, digest, path.name, datetime.now(UTC))
    issued = ca.issuance().issue(IssueRequest(csr, profile, subscriber))
    runs.finish_item(run_id, digest, issued.serial)
    if target is not None:
        write_pem(target, chain_pem(issued), issued.serial)
    return path.name, issued.serial, False


def _already_issued(
    runs: BatchStore, run_id: int, digest: str, csr: ParsedCsr, profile: str
) -> str | None:
    """The serial this run issued for this CSR: recorded, or (for an item a crash left
    in doubt) found in the inventory by names, profile, time and public key."""
    item = runs.item(run_id, digest)
    if item is None:
        return None
    if item.serial is not None:
        return item.serial
    spki = _spki(csr.public_key)
    for serial, der in runs.issued_since(csr.names, profile, item.started_at):
        cert = x509.load_der_x509_certificate(der)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        if _spki(cert.public_key()) == spki and sorted(
            n.lower() for n in names.value.get_values_for_type(x509.DNSName)
        ) == sorted(csr.names):
            runs.finish_item(run_id, digest, serial)
            return serial
    return None


def _spki(key: Any) -> bytes:
    return bytes(
        key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _stored_chain(inventory: Inventory, serial: str) -> str:
    from certkeeper.issuance.pem import der_to_pem

    record = inventory.certificate(serial=serial)
    issuer = inventory.issuer(record.issuer_id)
    return der_to_pem(record.der) + der_to_pem(issuer.cert_der)


def csr_files(directory: Path) -> list[Path]:
    """The CSR files a batch issues, in name order; none at all is an error."""
    if not directory.is_dir():
        raise InputError(f"--batch {directory} is not a directory")
    files = sorted(
        p for p in directory.iterdir() if p.suffix.lower() in CSR_SUFFIXES and p.is_file()
    )
    if not files:
        raise InputError(f"no CSR files ({', '.join(CSR_SUFFIXES)}) in {directory}")
    return files


def issue_batch(
    ca: BatchCa,
    directory: Path,
    profile: str,
    subscriber: str | None,
    out: Path | None,
    workers: int,
    advance: Callable[[int], None] | None = None,
    *,
    build: Callable[[Config], BatchCa],
) -> BatchReport:
    """Issue every CSR file in `directory`; `advance(n)` reports progress to the shell.
    Each worker process builds its own CA from the configuration with `build` (the
    composition root's `wiring.build`)."""
    files = csr_files(directory)
    if out is not None:
        check_directory(out)  # one clear line now, not a failure per item after signing
    # an unknown, disabled or out-of-step profile fails once, before any worker starts
    ca.profiles.for_issuance(profile)
    run = ca.stores.batches.open_run(
        str(directory.resolve()), profile, subscriber, datetime.now(UTC)
    )
    ca.close()  # no pooled connection crosses the fork
    report = BatchReport(resumed_from=run.started_at if run.resumed else None)
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(build, ca.config)
    ) as pool:
        futures = {pool.submit(_issue_one, f, profile, subscriber, out, run.id): f for f in files}
        for future in as_completed(futures):
            path = futures[future]
            try:
                name, serial, skipped = future.result()
                (report.skipped if skipped else report.issued).append((name, serial))
            except CertkeeperError as exc:
                report.failed.append((path.name, str(exc)))
            except Exception as exc:  # a worker that died: reported, the batch goes on
                report.failed.append((path.name, f"{type(exc).__name__}: {exc}"))
            if advance is not None:
                advance(1)
    ca.stores.batches.finish_run(run.id, datetime.now(UTC))
    ca.close()
    for items in (report.issued, report.failed, report.skipped):
        items.sort()
    return report
