"""CT logs for public test homes: a public home issues only with embedded SCTs, so every
test that issues in one submits to two RFC 6962 test logs of distinct operators, served
on loopback for the whole session (the `public_ct` fixture)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509

from ct.served import ServedLog, log_list_text

# "usable" long before any clock a test sets, so a test's own clock never predates the logs
USABLE_SINCE = datetime(2015, 1, 1, tzinfo=UTC)
LIST_NAME = "ct_log_list.json"


@dataclass
class PublicCt:
    logs: list[ServedLog]

    def configure(self, home: Path) -> Path:
        """Let the logs accept this home's root; name them in its `[ct]` table."""
        root = x509.load_pem_x509_certificate((home / "certs" / "root.pem").read_bytes())
        for served in self.logs:
            if root not in served.log.roots:
                served.log.roots.append(root)
        (home / LIST_NAME).write_text(log_list_text(self.logs, USABLE_SINCE))
        config = home / "certkeeper.toml"
        config.write_text(
            config.read_text()
            + f'\n[ct]\nlog_list = "{LIST_NAME}"\ntimeout_seconds = 5\ndeadline_seconds = 20\n'
        )
        return home
