"""The published URLs, derived in one place so certificates and publishers agree.

The CRL URL written into a certificate's CRLDP is byte-identical to the URL in its
shard CRL's issuingDistributionPoint (BR 7.2.2.1): both come from `crl_url`.
"""

from __future__ import annotations


def ca_issuers_url(base_url: str, issuer_name: str) -> str:
    """Where the issuing CA's certificate is published (AIA caIssuers, DER)."""
    return f"{base_url}/issuers/{issuer_name}.der"


def ocsp_url(base_url: str) -> str:
    return f"{base_url}/ocsp"


def crl_url(base_url: str, issuer_name: str, shard: int) -> str:
    """A shard of an issuing CA's partitioned CRL."""
    return f"{base_url}/crl/{issuer_name}/{shard}.crl"


def ca_crl_url(base_url: str, issuer_name: str) -> str:
    """The full CRL a root publishes for the CA certificates it signed."""
    return f"{base_url}/crl/{issuer_name}.crl"
