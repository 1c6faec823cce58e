"""The issuance hook that gets SCTs from CT logs (`SctSource` of the issuance service).

It finds the precertificate's issuer chain, has the submitter collect SCTs until the
policy is met, and hands back the SCT list to embed. When the policy cannot be met
by the deadline it raises `SctsUnavailable`: the issuance service then keeps the
precertificate with its status and signs no final certificate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cryptography import x509

from certkeeper.ct.compliance import SctsUnavailable
from certkeeper.ct.loglist import load_log_list
from certkeeper.ct.sct import encode_sct_list
from certkeeper.ct.submit import Post, Submitter, http_post
from certkeeper.errors import IssuanceRefused
from certkeeper.settings.ct import CtSettings
from certkeeper.store.records import IssuerRecord

# The precertificate -> its issuer's certificate DER, then the issuer's own chain
# (nearest first, up to and including a root the logs accept).
ChainFor = Callable[[x509.Certificate], Sequence[bytes]]


class CtSctSource:
    def __init__(self, submitter: Submitter, chain_for: ChainFor) -> None:
        self.submitter = submitter
        self.chain_for = chain_for

    def __call__(self, precertificate_der: bytes) -> bytes:
        pre = x509.load_der_x509_certificate(precertificate_der)
        serial = format(pre.serial_number, "x")
        chain = self.chain_for(pre)
        result = self.submitter.collect(precertificate_der, chain)
        unmet = result.unmet()
        if unmet is not None:
            detail = "; ".join(result.problems) or "no log answered"
            raise SctsUnavailable(f"serial {serial}: CT policy not met: {unmet} ({detail})")
        # Log order, not arrival order: the same SCTs always make the same extension.
        scts = sorted(result.scts, key=lambda c: c.log.log_id)
        return encode_sct_list([c.sct for c in scts])


def sct_source(settings: CtSettings, chain_for: ChainFor, *, post: Post = http_post) -> CtSctSource:
    """The hook for a home whose `[ct]` names a log list (read and checked now)."""
    if settings.log_list is None:
        raise ValueError("CT is off: [ct] names no log_list")
    loglist = load_log_list(str(settings.log_list))
    return CtSctSource(Submitter(loglist, settings.submission, post=post), chain_for)


def inventory_chain(issuers: Callable[[], Sequence[IssuerRecord]]) -> ChainFor:
    """Chains from the inventory's issuers: the issuing CA whose key identifier the
    precertificate names, then its parents up to the root."""

    def chain_for(precertificate: x509.Certificate) -> Sequence[bytes]:
        aki = precertificate.extensions.get_extension_for_class(
            x509.AuthorityKeyIdentifier
        ).value.key_identifier
        records = {rec.id: rec for rec in issuers()}
        for rec in records.values():
            if rec.role == "issuing" and aki is not None and bytes.fromhex(rec.ski) == aki:
                chain = [rec.cert_der]
                parent = rec.parent_id
                while parent is not None and parent in records and len(chain) < 8:
                    chain.append(records[parent].cert_der)
                    parent = records[parent].parent_id
                return chain
        raise IssuanceRefused(
            f"serial {precertificate.serial_number:x}: no issuing CA in the inventory has the "
            "precertificate's authority key identifier"
        )

    return chain_for
