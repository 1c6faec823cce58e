"""What subscriber notification reads of certkeeper.toml: the `[notify]` table (the SMTP
relay, the sender, and the retry schedule).

`config` keeps these as flat `Config` fields; `certkeeper.wiring` gathers them here so
the notifier takes only what it reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class NotifySettings:
    smtp_host: str
    smtp_port: int
    smtp_tls: str  # "none", "starttls" or "implicit"
    smtp_username: str | None
    smtp_password_file: Path | None  # else $CERTKEEPER_SMTP_PASSWORD
    mail_from: str
    notify_attempts: int  # a notice is given up after this many failed sends
    notify_retry_minutes: int  # the first retry's wait, doubled for each further one
