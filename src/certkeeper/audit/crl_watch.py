"""The CRL monitor's services: compare two CRLs, or run one round over shard sets.

These do the I/O (fetching, the state directory, asking the inventory for notAfter)
around the pure comparisons in `crl_monitor`, and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from certkeeper.audit import crl_state
from certkeeper.audit.crl_monitor import (
    ERROR,
    FetchFailure,
    Finding,
    Removal,
    SetRound,
    check_single,
    compare_pair,
    compare_sets,
    judge_removals,
    removals,
)
from certkeeper.audit.crl_snapshots import CrlSnapshot, snapshot
from certkeeper.audit.crl_sources import ExpirySource, ShardSet, read_location, shard_sets
from certkeeper.errors import InputError


@dataclass
class MonitorReport:
    findings: list[Finding] = field(default_factory=list)
    crls: int = 0  # CRLs read
    entries: int = 0  # entries in the CRLs read

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == ERROR)

    @property
    def warnings(self) -> int:
        return len(self.findings) - self.errors


def load_crl(location: str) -> CrlSnapshot:
    return snapshot(read_location(location), location)


def judge(found: Sequence[Removal], expiry: ExpirySource | None) -> list[Finding]:
    """Removal findings, asking `expiry` once per issuer for the removed serials."""
    if expiry is None:
        return judge_removals(found, None)
    by_issuer: dict[bytes, list[Removal]] = {}
    for r in found:
        by_issuer.setdefault(r.issuer, []).append(r)
    out: list[Finding] = []
    for issuer, group in by_issuer.items():
        known = expiry.not_after(issuer, {r.serial for r in group})
        out.extend(judge_removals(group, known))
    return out


def diff(old_location: str, new_location: str, expiry: ExpirySource | None) -> MonitorReport:
    """`audit crl-diff`: the later CRL checked alone and against the earlier one."""
    old = load_crl(old_location)
    new = load_crl(new_location)
    report = MonitorReport(crls=2, entries=len(old.entries) + len(new.entries))
    report.findings.extend(check_single(new))
    pair = compare_pair(old, new)
    report.findings.extend(pair.findings)
    if pair.comparable:
        report.findings.extend(judge(removals(old, new, pair.removed), expiry))
    return report


def fetch_round(shards: ShardSet, advance: Callable[[int], None] | None = None) -> SetRound:
    """Fetch every listed shard once; a failure is recorded, not raised."""
    got: dict[str, CrlSnapshot] = {}
    failures: list[FetchFailure] = []
    for url in dict.fromkeys(shards.listed):
        try:
            got[url] = snapshot(read_location(shards.where[url]), url)
        except InputError as exc:
            failures.append(FetchFailure(url, str(exc)))
        if advance is not None:
            advance(1)
    return SetRound(shards.listed, got, failures)


def resolve(source: str) -> list[ShardSet]:
    return shard_sets(source)


def watch_round(
    sets: Sequence[ShardSet],
    state_dir: Path,
    expiry: ExpirySource | None,
    now: datetime,
    advance: Callable[[int], None] | None = None,
) -> MonitorReport:
    """One round of `audit crl-watch`: fetch, compare with the saved state, save.

    A shard that could not be fetched keeps its previous snapshot, so its next good
    fetch is still compared with the last one seen. An early removal is carried in the
    state and reported again every round until the serial is listed again or its
    certificate has expired: one missed cron mail must not bury it."""
    report = MonitorReport()
    with crl_state.locked(state_dir):
        previous, carried = crl_state.load(state_dir)
        keep: dict[str, CrlSnapshot] = {}
        still_early: list[Removal] = []
        seen_issuers: set[bytes] = set()
        for shard_set in sets:
            current = fetch_round(shard_set, advance)
            mine = {
                u: s
                for u, s in previous.items()
                if u in shard_set.listed or _same_issuer(s, previous, shard_set)
            }
            result = compare_sets(mine, current, now)
            report.findings.extend(result.findings)
            found = result.removed + _carried_over(
                carried, current, {r.serial for r in result.removed}
            )
            seen_issuers.update(s.issuer for s in current.shards.values())
            judged = judge(found, expiry)
            report.findings.extend(judged)
            early = {(f.scope, f.serial) for f in judged if f.code == "early-removal"}
            still_early += [r for r in found if (r.scope, r.serial) in early]
            report.crls += len(current.shards)
            report.entries += sum(len(s.entries) for s in current.shards.values())
            keep.update(current.shards)
            for failure in current.failures:
                if failure.url in previous:
                    keep[failure.url] = previous[failure.url]
        # removals of issuers no set covered this round wait for a round that does
        still_early += [r for r in carried if r.issuer not in seen_issuers]
        crl_state.save(state_dir, keep, now, still_early)
    return report


def _carried_over(carried: Sequence[Removal], current: SetRound, fresh: set[str]) -> list[Removal]:
    """Earlier early removals of this set's issuers that are still missing, dated at
    this round's CRLs; a serial listed again is dropped."""
    out: list[Removal] = []
    for r in carried:
        shards = [c for c in current.shards.values() if c.issuer == r.issuer]
        if not shards or r.serial in fresh:
            continue
        if any(r.serial in c.entries for c in shards):
            continue
        first = min(c.this_update for c in shards)
        out.append(replace(r, first_unlisted=max(first, r.first_unlisted)))
    return out


def _same_issuer(snap: CrlSnapshot, previous: dict[str, CrlSnapshot], shard_set: ShardSet) -> bool:
    """A shard URL no longer listed still belongs to this set if its issuer does."""
    if snap.source in shard_set.listed:
        return True
    listed = [previous[u] for u in shard_set.listed if u in previous]
    return any(s.issuer == snap.issuer for s in listed)
