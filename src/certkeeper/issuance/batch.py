"""Batch issuance across worker processes, with a progress bar.

Each worker opens its own inventory connection and builds its linters once (pkilint's
validators take about a second to build and ~5 ms per certificate to run), then issues
the CSRs it is handed. Every CSR succeeds or fails on its own; one bad file does not
stop the batch, and each failure is reported with its file name.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from certkeeper.ca.home import CaHome
from certkeeper.config import Config
from certkeeper.errors import CertkeeperError, InputError

CSR_SUFFIXES = (".csr", ".pem", ".der", ".req")

_worker: tuple[CaHome, object] | None = None


@dataclass
class BatchReport:
    issued: list[tuple[str, str]] = field(default_factory=list)  # (file, serial)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)

    def summary(self) -> str:
        lines = [f"issued {len(self.issued)}, failed {len(self.failed)}"]
        lines += [f"failed: {name}: {reason}" for name, reason in self.failed]
        return "\n".join(lines)


def _init_worker(config: Config) -> None:
    global _worker
    from certkeeper.wiring import issuance_service

    home = CaHome(config)
    _worker = (home, issuance_service(home))


def _issue_one(
    path: Path, profile: str, subscriber: str | None, out: Path | None
) -> tuple[str, str]:
    from certkeeper.issuance.csr import load_csr
    from certkeeper.issuance.pem import chain_pem
    from certkeeper.issuance.service import IssuanceService, IssueRequest

    assert _worker is not None
    service = _worker[1]
    assert isinstance(service, IssuanceService)
    try:
        issued = service.issue(
            IssueRequest(load_csr(path.read_bytes(), path.name), profile, subscriber)
        )
    except CertkeeperError as exc:
        # Refusals carry fields (rule, problem type) their pickling would lose or break;
        # the report needs the one line, with the exit code of its kind.
        plain = CertkeeperError(str(exc))
        plain.exit_code = exc.exit_code
        raise plain from None
    if out is not None:
        (out / f"{path.stem}.pem").write_text(chain_pem(issued))
    return path.name, issued.serial


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
    home: CaHome,
    directory: Path,
    profile: str,
    subscriber: str | None,
    out: Path | None,
    workers: int,
    advance: Callable[[int], None] | None = None,
) -> BatchReport:
    """Issue every CSR file in `directory`; `advance(n)` reports progress to the shell."""
    files = csr_files(directory)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    # an unknown, disabled or out-of-step profile fails once, before any worker starts
    home.profiles.for_issuance(profile)
    home.close()
    report = BatchReport()
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(home.config,)
    ) as pool:
        futures = {pool.submit(_issue_one, f, profile, subscriber, out): f for f in files}
        for future in as_completed(futures):
            path = futures[future]
            try:
                report.issued.append(future.result())
            except CertkeeperError as exc:
                report.failed.append((path.name, str(exc)))
            if advance is not None:
                advance(1)
    report.issued.sort()
    report.failed.sort()
    return report
