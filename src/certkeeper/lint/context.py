"""What a lint may know beyond the document itself: issuer, reference data, profile."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography import x509

    from certkeeper.lint.tld import TldData


@dataclass(frozen=True)
class ProfileExpectations:
    """What a certificate profile promises; lints compare a certificate against it.

    Empty tuples mean "the profile says nothing", not "must be absent"."""

    profile_id: str = ""
    policy_oids: tuple[str, ...] = ()
    ca_issuers_urls: tuple[str, ...] = ()
    ocsp_urls: tuple[str, ...] = ()
    crl_urls: tuple[str, ...] = ()  # empty: any CRLDP URL allowed
    crldp_required: bool = False
    key_usage: tuple[str, ...] = ()  # cryptography KeyUsage attribute names
    extended_key_usage: tuple[str, ...] = ()  # dotted OIDs


@dataclass
class LintContext:
    """Inputs beyond the document. Build one and reuse it: TLD data loads once."""

    issuer: x509.Certificate | None = None
    expectations: ProfileExpectations | None = None
    tld: TldData | None = None
    # Also run the rules that took effect after the document's time, reporting what they
    # find as legacy findings (Finding.legacy), apart from the defects of its issuance.
    legacy: bool = False
    # Judge by today's version of every revised rule, whatever the document's time (set
    # by the engine for the legacy pass; `since` reads it).
    todays_rules: bool = False
    extra: dict[str, object] = field(default_factory=dict)
