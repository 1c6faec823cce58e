"""The CT log entries of affected certificates, for the incident report's lists.

An auditor who reads a report wants to find each certificate in the logs, not only on
crt.sh: for every SCT stored with a certificate, the log (its description and URL from
the home's log list, or its id when the list does not name it), the entry's timestamp,
and the Merkle leaf hash that `get-proof-by-hash` looks up. The entries are those of the
precertificate, whose SCTs the certificate embeds (RFC 6962 3.1).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from cryptography import x509

from certkeeper.ct.entries import sct_leaf_hash
from certkeeper.ct.loglist import LogListError, load_log_list
from certkeeper.ct.sct import SctError, decode_sct, precert_entry
from certkeeper.settings.ct import CtSettings
from certkeeper.store.scts import SctRecord


def log_names(settings: CtSettings) -> dict[str, str]:
    """log id (hex) -> "description <url>" from the home's log list; {} without one, or
    when it cannot be read now (the entries then name logs by id)."""
    if settings.log_list is None:
        return {}
    try:
        loglist = load_log_list(str(settings.log_list))
    except LogListError:
        return {}
    return {log.log_id.hex(): f"{log.description} <{log.url}>" for log in loglist.logs}


def entries(
    precertificate_der: bytes,
    issuer: x509.Certificate,
    scts: Sequence[SctRecord],
    names: Mapping[str, str],
) -> tuple[str, ...]:
    """One "log, timestamp, leaf hash" line per stored SCT, in log-id order."""
    entry = precert_entry(precertificate_der, issuer)
    out = []
    for record in sorted(scts, key=lambda r: r.log_id):
        try:
            sct = decode_sct(record.sct)
        except SctError as exc:
            out.append(f"log {record.log_id}: stored SCT does not decode ({exc})")
            continue
        when = datetime.fromtimestamp(record.timestamp_ms / 1000, UTC)
        leaf = base64.b64encode(sct_leaf_hash(sct, entry)).decode()
        log = names.get(record.log_id, f"log {record.log_id}")
        out.append(f"{log} at {when.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z leaf {leaf}")
    return tuple(out)
