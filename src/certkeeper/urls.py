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


_URL_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/@!$&'()*+,;=%"
)


def base_url_problem(base_url: str) -> str | None:
    """Why `base_url` cannot prefix the URLs written into certificates, or None. Every
    URL here ends up in AIA and CRLDP extensions (and in IDPs, byte for byte): so an
    http:// URL of RFC 3986 characters only (no space, newline or other control
    character, no query or fragment), with a host."""
    from urllib.parse import urlsplit

    if not base_url.startswith("http://"):
        # BR 7.1.2.7.7 / 7.1.2.11.2: AIA and CRLDP URLs are plain HTTP.
        return "must be an http:// URL"
    bad = sorted({c for c in base_url if c not in _URL_CHARS})
    if bad:
        return f"has characters a URL cannot hold: {', '.join(repr(c) for c in bad)}"
    try:
        parts = urlsplit(base_url)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError as exc:
        return f"is not a URL: {exc}"
    if not parts.hostname or parts.username is not None:
        return "must name a host (and no user)"
    return None


def base_url_host_problem(base_url: str) -> str | None:
    """Why the host of a well-formed `base_url` cannot be written into the AIA and CRLDP
    URLs of CA and subscriber certificates, or None: an IP address or an internal name
    (BR 4.2.2 and 7.1.2.7.12 keep Internal Names out of certificates; pkilint's
    cabf.internal_domain_name applies the rule to every URI), or a bare public suffix."""
    import ipaddress
    from urllib.parse import urlsplit

    from certkeeper.lint.names import public_suffix

    host = (urlsplit(base_url).hostname or "").rstrip(".")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return f"names the IP address {host}; certificate URLs need a registered domain name"
    suffix = public_suffix(host)
    if suffix is None:
        top = host.rsplit(".", 1)[-1]
        return f"names {host}, an internal name (.{top} is not a public suffix)"
    if suffix == host.lower():
        return f"names {host}, which is itself a public suffix"
    return None
