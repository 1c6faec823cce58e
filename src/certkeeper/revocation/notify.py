"""Tell subscribers before their certificates are revoked (seed 004: 67 days late,
waiting on customers who did not know). Every primary and backup contact of every
affected subscriber gets one message per incident with the deadline, the certificates
and how to replace them; deliveries and failures are recorded, failures retried."""

from __future__ import annotations

import smtplib
import ssl
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from certkeeper.ca.home import CaHome
from certkeeper.store.incidents import CampaignItem, IncidentRecord, IncidentStore
from certkeeper.x509.time import truncate


@dataclass
class NotifyReport:
    subscribers: int = 0
    sent: int = 0
    failed: int = 0
    without_contact: list[str] | None = None


def compose(
    incident: IncidentRecord, subscriber_id: str, items: list[CampaignItem], sender: str, to: str
) -> EmailMessage:
    """The notice: what happens, by when, to which certificates, and what to do.

    It promises nothing the plan does not hold: each item carries its own planned
    revocation time, and certificates and precertificates are counted apart."""
    certs = sorted((i for i in items if i.kind == "certificate"), key=lambda i: i.serial)
    pres = sorted((i for i in items if i.kind != "certificate"), key=lambda i: i.serial)
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    also = f" and {len(pres)} precertificate(s)" if pres else ""
    msg["Subject"] = (
        f"Action required: {len(certs)} certificate(s){also} to be revoked; deadline "
        f"{incident.deadline:%Y-%m-%d %H:%M} UTC"
    )
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=sender.split("@", 1)[1])
    msg["X-Certkeeper-Incident"] = str(incident.id)
    lines = [
        f"Subscriber: {subscriber_id}",
        "",
        "The CA/Browser Forum Baseline Requirements (section 4.9.1.1, item "
        f"{incident.br_item}) require us",
        f"to revoke the certificates listed below by {incident.deadline:%Y-%m-%d %H:%M} UTC.",
        "Each one's planned revocation time is given with it.",
        "",
        f"Reason: {incident.title}",
    ]
    if incident.explanation_url:
        lines.append(f"Details: {incident.explanation_url}")
    lines += [
        "",
        "How to replace them:",
        "- ACME clients that support ARI (RFC 9773) already see a renewal window in the",
        "  past for these certificates and will renew on their next check; run your",
        "  client's renew command now to be sure (e.g. `certbot renew --force-renewal`).",
        "- Otherwise request a new certificate for the same names with a new key.",
        "",
        "Certificates (serial, SHA-256, expires):",
        *_listing(certs),
    ]
    if pres:
        lines += ["", "Precertificates without a final certificate (serial, SHA-256, expires):"]
        lines += _listing(pres)
    msg.set_content("\n".join(lines) + "\n")
    return msg


def _listing(items: list[CampaignItem]) -> list[str]:
    lines = []
    for item in items:
        lines.append(f"- {item.serial}  {item.sha256}  {item.not_after:%Y-%m-%d}")
        lines.append(f"  {_planned(item)}")
        lines.append(f"  https://crt.sh/?sha256={item.sha256.upper()}")
    return lines


def _planned(item: CampaignItem) -> str:
    if item.planned_at is not None:
        return f"revocation planned at {item.planned_at:%Y-%m-%d %H:%M} UTC"
    if item.batch is None:
        return "revocation not planned yet"
    return "no revocation planned before it expires"


def notify(home: CaHome, incident_id: int, now: datetime | None = None) -> NotifyReport:
    """Send (or retry) every pending or failed notice of an incident."""
    store = IncidentStore(home.inventory.engine)
    incident = store.get(incident_id)
    config = home.config
    by_subscriber: dict[str, list[CampaignItem]] = defaultdict(list)
    for item in store.items(incident_id):
        if item.subscriber_id is not None:
            by_subscriber[item.subscriber_id].append(item)
    report = NotifyReport(subscribers=len(by_subscriber), without_contact=[])
    targets = []
    for subscriber_id in sorted(by_subscriber):
        contacts = store.contacts(subscriber_id)
        if not contacts:
            assert report.without_contact is not None
            report.without_contact.append(subscriber_id)
        targets += [(subscriber_id, address, kind) for address, kind in contacts]
    store.ensure_notifications(incident_id, targets)
    due = [
        n
        for n in store.notifications(incident_id, ("pending", "failed"))
        if n.attempts < config.notify_attempts
    ]
    if not due:
        return report
    try:
        smtp = smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=15)
    except OSError as exc:
        at = truncate(now or datetime.now(UTC))
        for n in due:
            store.record_delivery(
                incident_id,
                n.subscriber_id,
                n.address,
                False,
                f"cannot connect to {config.smtp_host}:{config.smtp_port}: {exc}",
                at,
            )
            report.failed += 1
        return report
    with smtp:
        if config.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        for n in due:
            message = compose(
                incident,
                n.subscriber_id,
                by_subscriber[n.subscriber_id],
                config.mail_from,
                n.address,
            )
            at = truncate(now or datetime.now(UTC))
            try:
                refused = smtp.send_message(message)
                error = "; ".join(f"{a}: {c} {m!r}" for a, (c, m) in refused.items()) or None
            except smtplib.SMTPException as exc:
                error = f"{type(exc).__name__}: {exc}"
            store.record_delivery(incident_id, n.subscriber_id, n.address, error is None, error, at)
            if error is None:
                report.sent += 1
            else:
                report.failed += 1
    store.log(
        incident_id,
        truncate(now or datetime.now(UTC)),
        "certkeeper",
        "notifications",
        {
            "sent": report.sent,
            "failed": report.failed,
            "without_contact": report.without_contact,
        },
    )
    return report
