"""Subscriber notices go through a real SMTP server; failures are recorded and retried."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from certkeeper import wiring
from certkeeper.audit_chain import AuditFilter
from certkeeper.auditlog.record import audit_log
from certkeeper.ca.home import CaHome
from certkeeper.certificate_filter import CertificateFilter
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.service import IssueRequest
from certkeeper.revocation.notify import compose
from certkeeper.store.incidents import CampaignItem, IncidentRecord, IncidentStore
from certkeeper.wiring import issuance_service
from factories import csr_pem


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.content)))  # type: ignore[arg-type]
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def test_primary_and_backup_contacts_are_notified_and_failures_retried(
    fresh_ca: CaHome, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    ca = CaHome(dataclasses.replace(fresh_ca.config, smtp_host="127.0.0.1", smtp_port=port))
    store = IncidentStore(ca.inventory.engine)
    now = datetime.now(UTC)
    ca.inventory.ensure_subscriber("shop", now)
    store.set_contacts("shop", ["ops@shop.example"], ["cto@shop.example", "oncall@shop.example"])
    service = issuance_service(ca)
    for name in ("a.shop.example.com", "b.shop.example.com"):
        service.issue(IssueRequest(load_csr(csr_pem([name])), "tls-dv-ecdsa", subscriber_id="shop"))
    service.issue(IssueRequest(load_csr(csr_pem(["nobody.example.com"])), "tls-dv-ecdsa"))
    incident = wiring.build(ca).incidents.open_incident(
        title="basicConstraints not critical",
        aware_at=now - timedelta(hours=1),
        br_item_number=12,
        selector=CertificateFilter(profile_id="tls-dv-ecdsa"),
        now=now,
        explanation_url="https://ca.example.com/i/7",
    )
    box.refuse.add("oncall@shop.example")
    first = wiring.build(ca).notifier.notify(incident.id)
    assert (first.sent, first.failed) == (2, 1)
    recipients = sorted(r[0] for r, _ in box.messages)
    assert recipients == ["cto@shop.example", "ops@shop.example"]
    body = message_from_bytes(box.messages[0][1])
    text = body.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "Action required: 2 certificate(s) to be revoked" in body["Subject"]
    assert f"{incident.deadline:%Y-%m-%d %H:%M} UTC" in text
    assert text.count("revocation not planned yet") == 2  # notified before any plan
    assert "https://ca.example.com/i/7" in text and text.count("https://crt.sh/?sha256=") == 2
    status = wiring.build(ca).incidents.status(incident.id, now)
    assert [(u["address"], u["state"]) for u in status.undelivered] == [
        ("oncall@shop.example", "failed")
    ]

    box.refuse.clear()
    soon = wiring.build(ca).notifier.notify(
        incident.id, now=now + timedelta(minutes=5)
    )  # inside the backoff
    assert (soon.sent, soon.failed, soon.waiting) == (0, 0, 1)
    later = now + timedelta(minutes=20)
    second = wiring.build(ca).notifier.notify(
        incident.id, now=later
    )  # only the failed one is sent again
    assert (second.sent, second.failed) == (1, 0)
    assert wiring.build(ca).incidents.status(incident.id, now).undelivered == []
    assert wiring.build(ca).notifier.notify(incident.id, now=later).sent == 0  # nothing sent twice


def test_unreachable_smtp_server_is_recorded_not_raised(fresh_ca: CaHome) -> None:
    ca = CaHome(dataclasses.replace(fresh_ca.config, smtp_host="127.0.0.1", smtp_port=free_port()))
    store = IncidentStore(ca.inventory.engine)
    now = datetime.now(UTC)
    ca.inventory.ensure_subscriber("s", now)
    store.set_contacts("s", ["a@s.example"], [])
    issuance_service(ca).issue(
        IssueRequest(load_csr(csr_pem(["u.example.com"])), "tls-dv-ecdsa", subscriber_id="s")
    )
    incident = wiring.build(ca).incidents.open_incident(
        title="t",
        aware_at=now,
        br_item_number=12,
        selector=CertificateFilter(subscriber_id="s"),
        now=now,
    )
    report = wiring.build(ca).notifier.notify(incident.id)
    assert report.failed == 1
    (undelivered,) = wiring.build(ca).incidents.status(incident.id, now).undelivered
    assert "cannot connect" in str(undelivered["error"])
    (run,) = audit_log(ca).entries(AuditFilter(event="incident.notified"))
    assert run.subject == f"incident {incident.id}"
    assert run.detail_dict()["failed"] == 1 and run.detail_dict()["sent"] == 0


def test_a_notice_promises_only_what_the_plan_holds() -> None:
    """A plan that misses the deadline must not be announced as "revoked by" it: each
    item says when it is planned, and precertificates are counted apart."""
    at = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    incident = IncidentRecord(7, "t", 12, 4, at, at + timedelta(days=5), {}, "open", None, {}, at)
    expires = at + timedelta(days=90)

    def item(serial: str, kind: str, planned: datetime | None, batch: int | None) -> CampaignItem:
        return CampaignItem(serial, serial * 32, kind, 1, 0, expires, "s", planned, batch)

    items = [
        item("01", "certificate", at, 0),
        item("02", "certificate", None, -1),
        item("03", "precertificate", at + timedelta(days=1), 1),
    ]
    msg = compose(incident, "s", items, "ca@ca.example", "ops@s.example")
    text = msg.get_content()
    assert msg["Subject"] == (
        "Action required: 2 certificate(s) and 1 precertificate(s) to be revoked; "
        "deadline 2026-11-28 09:00 UTC"
    )
    assert "revocation planned at 2026-11-23 09:00 UTC" in text
    assert "no revocation planned before it expires" in text
    assert "will revoke" not in text and "no later than" not in text
    pre = text.index("Precertificates without a final certificate")
    assert text.index("- 03") > pre > text.index("- 02")
