"""PEM output of an issued certificate and its chain."""

from __future__ import annotations

import base64
import textwrap

from certkeeper.issuance.service import Issued


def der_to_pem(der: bytes, label: str = "CERTIFICATE") -> str:
    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"


def chain_pem(issued: Issued) -> str:
    """The certificate followed by its issuing CA certificate(s)."""
    return "".join(der_to_pem(d) for d in (issued.der, *issued.chain))
