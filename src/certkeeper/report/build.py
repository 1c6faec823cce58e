"""Build an `IncidentReport` from the stores: the one place the report reads the database.

Every count comes from `IncidentService.status` at one instant (`now`), and every
affected-certificate row is classified by the same rule the ledger uses, so the report,
its CSV files and `certkeeper incident status` cannot disagree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography import x509

from certkeeper.certificate_filter import CertificateFilter
from certkeeper.errors import CertkeeperError
from certkeeper.report import ct_entries
from certkeeper.report.model import AffectedRow, IncidentReport, Plan, ShardBar, TimelineEntry
from certkeeper.report.series import leave_time, remaining_series
from certkeeper.report.words import selector_in_words
from certkeeper.revocation import details as detailsmod
from certkeeper.revocation import incidents
from certkeeper.revocation.ledger import Counts
from certkeeper.revocation.reasons import CrlReason, br_item, encoded_reason
from certkeeper.store.incidents import CampaignItem, Event
from certkeeper.x509 import crl as crlenc
from certkeeper.x509.time import truncate

if TYPE_CHECKING:
    from certkeeper.revocation.incidents import IncidentService
    from certkeeper.settings.ct import CtSettings
    from certkeeper.status.crl import ShardStatus
    from certkeeper.store.stores import Stores

# The CRL publisher's part (status/crl.py): every issuing CA's shards as they stand.
ShardSizes = Callable[[datetime], Iterable["ShardStatus"]]

_CHUNK = 900  # serials per lookup: under SQLite's bound-parameter limit


def row_status(not_after: datetime, revoked_at: datetime | None, at: datetime) -> str:
    """revoked / expired / valid at `at`: the ledger's rule (revocation wins a tie)."""
    if revoked_at is not None and revoked_at <= at:
        return "revoked"
    if not_after <= at:
        return "expired"
    return "valid"


class ReportBuilder:
    """Builds incident reports from the incident, inventory and SCT stores, the ledger
    of the incident service and the CRL shards as they stand; the `[ct]` log list names
    the logs, and the shard budget is the one plans were made under."""

    def __init__(
        self,
        stores: Stores,
        ct: CtSettings,
        crl_budget_bytes: int,
        incidents: IncidentService,
        shard_sizes: ShardSizes,
    ) -> None:
        self.stores = stores
        self.ct = ct
        self.crl_budget_bytes = crl_budget_bytes
        self.incidents = incidents
        self.shard_sizes = shard_sizes

    def iter_affected(
        self,
        items: Sequence[CampaignItem],
        revoked: dict[str, datetime],
        now: datetime,
    ) -> Iterator[tuple[AffectedRow, str | None]]:
        """Each affected item as a CSV row (final certificates first, then precertificates
        without a final certificate), with its "profile (key type)" label when known."""
        inventory = self.stores.inventory
        issuers = {rec.id: rec for rec in inventory.issuers()}
        names = {rec.id: rec.name for rec in issuers.values()}
        sct_store = self.stores.scts
        log_names = ct_entries.log_names(self.ct)
        issuer_certs: dict[int, x509.Certificate] = {}

        def issuer_cert(issuer_id: int) -> x509.Certificate:
            if issuer_id not in issuer_certs:
                issuer_certs[issuer_id] = x509.load_der_x509_certificate(
                    issuers[issuer_id].cert_der
                )
            return issuer_certs[issuer_id]

        for kind in ("certificate", "precertificate"):
            serials = [i.serial for i in items if i.kind == kind]
            for start in range(0, len(serials), _CHUNK):
                chunk = serials[start : start + _CHUNK]
                flt = CertificateFilter(serials=tuple(chunk))
                out: list[tuple[AffectedRow, str | None]] = []
                if kind == "certificate":
                    pres = {p.serial: p for p in inventory.list_precertificates(flt)}
                    scts = sct_store.for_serials(chunk)
                    for cert in inventory.list_certificates(flt):
                        pre = pres.get(cert.serial)
                        logged = (
                            ct_entries.entries(
                                pre.der, issuer_cert(cert.issuer_id), scts[cert.serial], log_names
                            )
                            if pre is not None and cert.serial in scts
                            else ()
                        )
                        row = AffectedRow(
                            cert.sha256,
                            cert.serial,
                            names.get(cert.issuer_id, str(cert.issuer_id)),
                            cert.not_before,
                            cert.not_after,
                            row_status(cert.not_after, revoked.get(cert.serial), now),
                            kind,
                            pre.sha256 if pre is not None else "",
                            logged,
                        )
                        out.append((row, f"{cert.profile_id} ({cert.key_type})"))
                else:
                    for pre in inventory.list_precertificates(flt, without_final=True):
                        row = AffectedRow(
                            pre.sha256,
                            pre.serial,
                            names.get(pre.issuer_id, str(pre.issuer_id)),
                            pre.not_before,
                            pre.not_after,
                            row_status(pre.not_after, revoked.get(pre.serial), now),
                            kind,
                        )
                        out.append((row, None))
                out.sort(key=lambda pair: pair[0].serial)
                yield from out

    def build_report(
        self,
        incident_id: int,
        now: datetime,
        on_row: Callable[[AffectedRow], None] | None = None,
        advance: Callable[[int], None] | None = None,
        with_rows: bool = True,
    ) -> IncidentReport:
        """The report as of `now`; `on_row` receives every affected row (for the CSV files)
        during the single pass over the inventory. `with_rows=False` skips that pass (the
        weekly update needs only the ledger): no affected types, no issuance range."""
        now = truncate(now)
        store = self.stores.incidents
        incident = store.get(incident_id)
        ledger = self.incidents.status(incident_id, now)
        items = list(store.items(incident_id))
        revoked = store.revocation_times(incident_id)
        details = detailsmod.validate(incident.details)
        action_items = detailsmod.actions(details)
        events = store.events(incident_id)

        types: Counter[str] = Counter()
        tally: Counter[tuple[str, str]] = Counter()
        first: datetime | None = None
        last: datetime | None = None
        rows = self.iter_affected(items, revoked, now) if with_rows else iter(())
        for row, label in rows:
            tally[(row.kind, row.status)] += 1
            if label is not None:
                types[label] += 1
                first = row.not_before if first is None else min(first, row.not_before)
                last = row.not_before if last is None else max(last, row.not_before)
            if on_row is not None:
                on_row(row)
            if advance is not None:
                advance(1)

        if with_rows:
            _check_rows(tally, ledger.counts, ledger.precertificates)
        certs = [i for i in items if i.kind == "certificate"]
        actual_leaves = [leave_time(i.not_after, revoked.get(i.serial)) for i in certs]
        planned_leaves = [
            leave_time(i.not_after, revoked.get(i.serial), i.planned_at) for i in certs
        ]
        horizon = max([now, incident.deadline, *[t for t in planned_leaves if t > now]])
        start = min(incident.aware_at, now)
        item = br_item(incident.br_item)
        return IncidentReport(
            generated_at=now,
            incident_id=incident_id,
            title=incident.title,
            br_item=incident.br_item,
            br_summary=item.summary,
            reason=CrlReason(incident.reason).name,
            aware_at=incident.aware_at,
            deadline=incident.deadline,
            state=incident.state,
            explanation_url=incident.explanation_url,
            details=details,
            actions=action_items,
            counts=ledger.counts,
            precertificates=ledger.precertificates,
            weeks=ledger.weeks,
            planned_total=ledger.planned_total,
            planned_total_precertificates=ledger.planned_total_precertificates,
            plan=_latest_plan(incident_id, events),
            heuristic=selector_in_words(incident.selector, incident.aware_at),
            affected_types=sorted(types.items(), key=lambda kv: (-kv[1], kv[0])),
            first_issued=first,
            last_issued=last,
            timeline=_timeline(incident.aware_at, incident.deadline, details, events, now),
            remaining_actual=remaining_series(actual_leaves, len(certs), start, now),
            remaining_planned=(
                remaining_series(planned_leaves, len(certs), start, horizon)
                if any(i.planned_at is not None for i in certs)
                else []
            ),
            shards=self._shards(items, revoked, incident.reason, now),
            budget_bytes=self.crl_budget_bytes,
            undelivered=ledger.undelivered,
        )

    def _shards(
        self,
        items: Sequence[CampaignItem],
        revoked: dict[str, datetime],
        reason: int,
        now: datetime,
    ) -> list[ShardBar]:
        """Every CRL shard holding an affected item: bytes now, and with every remaining
        (unrevoked, unexpired) affected item revoked now with the incident's reason."""
        names = {rec.id: rec.name for rec in self.stores.inventory.issuers()}
        code = encoded_reason(CrlReason(reason))
        extra: Counter[tuple[str, int]] = Counter()
        touched: set[tuple[str, int]] = set()
        for i in items:
            key = (names.get(i.issuer_id, str(i.issuer_id)), i.crl_shard)
            touched.add(key)
            if i.serial not in revoked and i.not_after > now:
                extra[key] += crlenc.entry_size(crlenc.serial_octets(i.serial), now, code)
        bars = []
        for s in self.shard_sizes(now):
            key = (s.issuer, s.shard)
            if key in touched:
                bars.append(ShardBar(s.issuer, s.shard, s.bytes, s.bytes + extra[key]))
        return sorted(bars, key=lambda b: (b.issuer, b.shard))


class ReportInconsistent(CertkeeperError):
    """The rows and the ledger disagree: something changed while the report was built."""


def _check_rows(tally: Counter[tuple[str, str]], certs: Counts, pres: Counts) -> None:
    """Refuse to write a report whose files say something other than its ledger (a
    revocation committed between the two reads, or an item missing from the inventory)."""
    for kind, counts in (("certificate", certs), ("precertificate", pres)):
        rows = (tally[(kind, "revoked")], tally[(kind, "expired")], tally[(kind, "valid")])
        ledger = (counts.revoked, counts.expired, counts.remaining)
        if rows != ledger:
            raise ReportInconsistent(
                f"{kind} rows (revoked, expired, valid) = {rows} but the ledger says {ledger}: "
                "the inventory changed while the report was built; run it again"
            )


def _latest_plan(incident_id: int, events: Sequence[Event]) -> Plan | None:
    """The latest plan, its verdict worded as every other surface words it."""
    plans = [e for e in events if e.event == "planned"]
    if not plans:
        return None
    e = plans[-1]
    d = e.detail
    verdict = incidents.plan_verdict(d)
    return Plan(
        made_at=e.at,
        summary=incidents.verdict_sentence(incident_id, d),
        policy=str(d["policy"]) if d.get("policy") is not None else None,
        deadline_met=None if verdict is None else verdict.met,
        batches=[b for b in d.get("batches", []) if isinstance(b, dict)],
        verdict=verdict,
    )


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def event_text(event: Event) -> str:
    """An incident event log entry as one sentence for the report's timeline."""
    text = _event_text(event).strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _event_text(event: Event) -> str:
    d: dict[str, Any] = event.detail
    name = event.event
    if name == "opened":
        if "certificates" in d:
            affected = (
                f"{_plural(int(d['certificates']), 'certificate')} and "
                f"{_plural(int(d.get('precertificates_without_final', 0)), 'precertificate')} "
                "without a final certificate"
            )
        else:  # recorded before the two were counted apart
            affected = _plural(int(d.get("affected", 0)), "item")
        return (
            f"Incident opened by {event.actor}: {affected} affected; "
            f"revocation deadline {d.get('deadline', '?')}."
        )
    if name == "planned":
        return f"Revocation planned by {event.actor}: {d.get('summary', '')}"
    if name == "execution started":
        return f"Revocation run started by {event.actor} (batches due by {d.get('until', '?')})."
    if name == "batch revoked":
        return (
            f"Batch {d.get('batch')} revoked: {d.get('revoked', 0)} revoked, "
            f"{d.get('already_revoked', 0)} already revoked, {d.get('expired', 0)} expired."
        )
    if name == "execution finished":
        return (
            f"Revocation run finished: {d.get('revoked', 0)} revoked, "
            f"{d.get('already_revoked', 0)} already revoked, {d.get('expired', 0)} expired, "
            f"{d.get('shards_republished', 0)} CRL shard(s) republished."
        )
    if name == "notifications":
        without = d.get("without_contact") or []
        return (
            f"Subscriber notices: {d.get('sent', 0)} sent, {d.get('failed', 0)} failed, "
            f"{_plural(len(without), 'subscriber')} without a contact address."
        )
    if name == "report details updated":
        fields = ", ".join(str(f) for f in d.get("fields", []))
        return f"Report fields updated by {event.actor}: {fields}."
    if name == "action item added":
        return (
            f"Action item #{d.get('number')} added by {event.actor} "
            f"({d.get('kind')}, due {d.get('due')}): {d.get('description')}"
        )
    if name == "action item changed":
        changes = ", ".join(f"{k} {v}" for k, v in d.items() if k != "number")
        return f"Action item #{d.get('number')} changed by {event.actor}: {changes}."
    summary = ", ".join(f"{k} {v}" for k, v in sorted(d.items()))
    return f"{name.capitalize()} ({event.actor}){': ' + summary if summary else ''}."


def _timeline(
    aware_at: datetime,
    deadline: datetime,
    details: dict[str, Any],
    events: Sequence[Event],
    now: datetime,
) -> list[TimelineEntry]:
    out = [
        TimelineEntry(aware_at, "The CA was made aware of the problem.", "incident"),
        TimelineEntry(
            deadline,
            "Revocation deadline (BR 4.9.1.1)"
            + (" passed." if deadline <= now else " (in the future)."),
            "incident",
        ),
    ]
    fixed = {
        "non_compliance_start": "Non-compliance began.",
        "non_compliance_end": "Non-compliance ended.",
        "issuance_stopped_at": "Issuance stopped.",
        "issuance_resumed_at": "Issuance resumed.",
    }
    for key, text in fixed.items():
        if key in details:
            out.append(TimelineEntry(datetime.fromisoformat(details[key]), text, "entered"))
    for entry in details.get("timeline", []):
        out.append(TimelineEntry(datetime.fromisoformat(entry["at"]), entry["event"], "entered"))
    for event in events:
        out.append(TimelineEntry(event.at, event_text(event), "ledger"))
    order = {"entered": 0, "incident": 1, "ledger": 2}
    return sorted(out, key=lambda e: (e.at, order[e.source]))
