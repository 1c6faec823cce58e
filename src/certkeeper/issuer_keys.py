"""What a service needs of the CA's issuers: their certificates and keys.

A protocol, so services that sign (issuance, CRLs, OCSP) take this instead of the CA
home: `CaHome` is the implementation, loading keys on demand and checking each against
its certificate; a test may pass a stand-in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from cryptography import x509

    from certkeeper.store.records import IssuerRecord
    from certkeeper.x509.signer import Signer

# issuers.key_ref of a root whose key is in its own offline home, not in this one: no
# online process can sign with it.
OFFLINE_KEY = "offline"


class IssuerKeys(Protocol):
    def signer(self, issuer: IssuerRecord) -> Signer:
        """The issuer's key, checked against its certificate."""
        ...

    def issuer_certificate(self, issuer: IssuerRecord) -> x509.Certificate: ...

    def active_issuer(self, key_type: str) -> IssuerRecord:
        """The active issuing CA with a key of `key_type` (ConfigError if none)."""
        ...
