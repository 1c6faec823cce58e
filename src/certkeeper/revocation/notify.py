"""Tell subscribers before their certificates are revoked (seed 004: 67 days late,
waiting on customers who did not know). Every primary and backup contact of every
affected subscriber gets one message per incident with the deadline, the certificates
and how to replace them; deliveries and failures are recorded, failures retried."""

from __future__ import annotations

import os
import smtplib
import ssl
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from certkeeper.auditlog.record import Home
from certkeeper.errors import ConfigError, NotFound
from certkeeper.revocation.incident_audit import recorder
from certkeeper.settings.notify import NotifySettings
from certkeeper.store.incidents import CampaignItem, IncidentRecord, IncidentStore, Notification
from certkeeper.store.inventory import Inventory
from certkeeper.x509.time import truncate


def set_contacts(
    inventory: Inventory,
    store: IncidentStore,
    subscriber_id: str,
    primaries: list[str],
    backups: list[str],
    now: datetime,
) -> None:
    """Create the subscriber if new and replace its contacts: who `notify` writes to."""
    inventory.ensure_subscriber(subscriber_id, truncate(now))
    store.set_contacts(subscriber_id, primaries, backups)


@dataclass
class NotifyReport:
    subscribers: int = 0
    sent: int = 0
    failed: int = 0
    without_contact: list[str] | None = None
    abandoned: list[str] = field(default_factory=list)  # attempts used up: act on these
    waiting: int = 0  # failed notices inside their retry backoff
    errors: list[str] = field(default_factory=list)  # why sends failed this run
    messages: list[EmailMessage] = field(default_factory=list)  # dry run only


def compose(
    incident: IncidentRecord,
    subscriber_id: str,
    items: list[CampaignItem],
    sender: str,
    to: str,
    *,
    names: dict[str, list[str]] | None = None,
    now: datetime | None = None,
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
    msg["Date"] = format_datetime(now or datetime.now(UTC))
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
        *_listing(certs, names or {}),
    ]
    if pres:
        lines += ["", "Precertificates without a final certificate (serial, SHA-256, expires):"]
        lines += _listing(pres, names or {})
    msg.set_content("\n".join(lines) + "\n")
    return msg


def _listing(items: list[CampaignItem], names: dict[str, list[str]]) -> list[str]:
    lines = []
    for item in items:
        lines.append(f"- {item.serial}  {item.sha256}  {item.not_after:%Y-%m-%d}")
        if names.get(item.serial):
            lines.append(f"  names: {', '.join(names[item.serial])}")
        lines.append(f"  {_planned(item)}")
        lines.append(f"  https://crt.sh/?sha256={item.sha256.upper()}")
    return lines


def _planned(item: CampaignItem) -> str:
    if item.planned_at is not None:
        return f"revocation planned at {item.planned_at:%Y-%m-%d %H:%M} UTC"
    if item.batch is None:
        return "revocation not planned yet"
    return "no revocation planned before it expires"


SMTP_PASSWORD_ENV = "CERTKEEPER_SMTP_PASSWORD"


class SmtpUnavailable(Exception):
    """Connecting, TLS or authentication failed: nothing could be sent this round."""


def _smtp_password(settings: NotifySettings) -> str | None:
    if settings.smtp_username is None:
        return None
    value = os.environ.get(SMTP_PASSWORD_ENV)
    if value:
        return value
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    sources = [Path(credentials) / "smtp-password"] if credentials else []
    if settings.smtp_password_file is not None:
        sources.append(settings.smtp_password_file)
    for path in sources:
        if path.is_file():
            return path.read_text(encoding="utf-8").strip()
    raise ConfigError(
        f"SMTP user {settings.smtp_username} has no password: set {SMTP_PASSWORD_ENV} or "
        "[notify] password_file"
    )


def _connect(settings: NotifySettings) -> smtplib.SMTP:
    """A connected, encrypted (as configured) and authenticated SMTP session."""
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    password = _smtp_password(settings)
    context = ssl.create_default_context()
    try:
        smtp: smtplib.SMTP
        if settings.smtp_tls == "implicit":
            smtp = smtplib.SMTP_SSL(
                settings.smtp_host, settings.smtp_port, timeout=15, context=context
            )
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=15)
    except (OSError, smtplib.SMTPException) as exc:
        raise SmtpUnavailable(f"cannot connect to {where}: {exc}") from None
    step = "STARTTLS"
    try:
        if settings.smtp_tls == "starttls":
            smtp.starttls(context=context)
        step = "authentication"
        if settings.smtp_username is not None and password is not None:
            smtp.login(settings.smtp_username, password)
    except (OSError, smtplib.SMTPException) as exc:
        smtp.close()
        raise SmtpUnavailable(f"SMTP {step} with {where} failed: {exc}") from None
    return smtp


def _due(n: Notification, settings: NotifySettings, now: datetime) -> bool:
    """Pending, or failed and past its backoff (retry_minutes, doubling per attempt)."""
    if n.attempts >= settings.notify_attempts:
        return False
    if n.state == "pending" or n.last_attempt_at is None:
        return True
    wait = timedelta(minutes=settings.notify_retry_minutes * 2 ** max(0, n.attempts - 1))
    return n.last_attempt_at + wait <= now


def _with_names(inventory: Inventory, items: list[CampaignItem]) -> dict[str, list[str]]:
    """serial -> the names it certifies (the final certificate's, or the precert's)."""
    names: dict[str, list[str]] = {}
    for item in items:
        try:
            if item.kind == "certificate":
                names[item.serial] = list(inventory.certificate(serial=item.serial).names)
            else:
                der = inventory.precertificate(item.serial).der
                names[item.serial] = _san_names(der)
        except NotFound:
            names[item.serial] = []
    return names


def _san_names(der: bytes) -> list[str]:
    from cryptography import x509

    try:
        san = x509.load_der_x509_certificate(der).extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        )
    except (ValueError, x509.ExtensionNotFound):
        return []
    return sorted(str(v) for v in san.value.get_values_for_type(x509.DNSName)) + sorted(
        str(v) for v in san.value.get_values_for_type(x509.IPAddress)
    )


class IncidentNotifier:
    """Sends an incident's subscriber notices by SMTP (`[notify]`), records deliveries
    and failures, and tells the audit log."""

    def __init__(
        self,
        incidents: IncidentStore,
        inventory: Inventory,
        settings: NotifySettings,
        audit: Home,
        clock: Callable[[], datetime],
    ) -> None:
        self.incidents = incidents
        self.inventory = inventory
        self.settings = settings
        self.audit = audit
        self.clock = clock

    def notify(
        self,
        incident_id: int,
        now: datetime | None = None,
        *,
        dry_run: bool = False,
    ) -> NotifyReport:
        """Send (or retry, with backoff) every pending or failed notice of an incident.

        Notices that used up their attempts are reported as abandoned on every run until
        someone acts, so a timer running this command keeps failing visibly. With
        `dry_run`, the messages are composed and returned, and nothing is sent or recorded."""
        store = self.incidents
        incident = store.get(incident_id)
        settings = self.settings
        at = truncate(now or self.clock())
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
        if not dry_run:
            store.ensure_notifications(incident_id, targets)
            notices = store.notifications(incident_id, ("pending", "failed"))
        else:  # every contact, as if none had been sent
            notices = [Notification(s, a, k, "pending", 0, None, None) for s, a, k in targets]
        report.abandoned = [
            f"{n.address} ({n.subscriber_id}): {n.last_error}"
            for n in notices
            if n.state == "failed" and n.attempts >= settings.notify_attempts
        ]
        due = [n for n in notices if _due(n, settings, at)]
        report.waiting = sum(
            1
            for n in notices
            if n.attempts < settings.notify_attempts and not _due(n, settings, at)
        )
        if not due:
            return report
        names = _with_names(self.inventory, [i for items in by_subscriber.values() for i in items])
        messages = [
            (
                n,
                compose(
                    incident,
                    n.subscriber_id,
                    by_subscriber[n.subscriber_id],
                    settings.mail_from,
                    n.address,
                    names=names,
                    now=at,
                ),
            )
            for n in due
        ]
        if dry_run:
            report.messages = [m for _, m in messages]
            return report
        try:
            smtp = _connect(settings)
        except SmtpUnavailable as exc:
            for n in due:
                store.record_delivery(incident_id, n.subscriber_id, n.address, False, str(exc), at)
                report.failed += 1
            report.errors.append(str(exc))
            self._log(incident_id, at, report)
            return report
        with smtp:
            for n, message in messages:
                try:
                    refused = smtp.send_message(message)
                    error = "; ".join(f"{a}: {c} {m!r}" for a, (c, m) in refused.items()) or None
                except (OSError, smtplib.SMTPException) as exc:
                    error = f"{type(exc).__name__}: {exc}"
                store.record_delivery(
                    incident_id, n.subscriber_id, n.address, error is None, error, at
                )
                if error is None:
                    report.sent += 1
                else:
                    report.failed += 1
                    report.errors.append(f"{n.address}: {error}")
        self._log(incident_id, at, report)
        return report

    def _log(self, incident_id: int, at: datetime, report: NotifyReport) -> None:
        """The run in the incident's event log and in the audit log (by whoever ran it)."""
        detail = {
            "sent": report.sent,
            "failed": report.failed,
            "abandoned": len(report.abandoned),
            "without_contact": report.without_contact,
        }
        self.incidents.log(incident_id, at, "certkeeper", "notifications", detail)
        recorder(self.audit, incident_id)("notified", detail)
