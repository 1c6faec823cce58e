"""The TorServiceDescriptor extension (ballot 201, EV Guidelines Appendix F): from
2017-07-28 until ballot SC27 required version 3 onion addresses, a certificate naming a
version 2 onion service carried, for each onion name, the hash of the service's public
key, so a relying party could bind the 80-bit name to a full key.
"""

from __future__ import annotations

from certkeeper import br
from certkeeper.lint.cert.common import CERT, EXT, Out
from certkeeper.lint.context import LintContext
from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.document.values import decode_oid
from certkeeper.lint.engine import LEAF_TYPES, Severity, lint
from certkeeper.x509.der import DerError, children, header
from certkeeper.x509.oids import HASH_SHA256, HASH_SHA384, HASH_SHA512, OID_TOR_SERVICE_DESCRIPTOR

# id-sha256, id-sha384, id-sha512 and their digest sizes in octets.
_DIGESTS = {
    HASH_SHA256: 32,
    HASH_SHA384: 48,
    HASH_SHA512: 64,
}


def _descriptors(value: bytes) -> list[tuple[bytes, str, int]]:
    """(onionURI octets, hash algorithm OID, hash length) per TorServiceDescriptorHash."""
    tag, cs, ce = header(value, 0, len(value))
    if tag != 0x30 or ce != len(value):
        raise DerError("not one SEQUENCE")
    out = []
    for dtag, dcs, dce in children(value, cs, ce):
        parts = children(value, dcs, dce)
        if dtag != 0x30 or [t for t, _, _ in parts] != [0x0C, 0x30, 0x03]:
            raise DerError(
                "a descriptor is not SEQUENCE { UTF8String, AlgorithmIdentifier, BIT STRING }"
            )
        (_, ucs, uce), (_, acs, ace), (_, bcs, bce) = parts
        alg = children(value, acs, ace)
        if not alg or alg[0][0] != 0x06:
            raise DerError("a descriptor's algorithm has no OID")
        oid = decode_oid(value[alg[0][1] : alg[0][2]])
        out.append((value[ucs:uce], oid, max(bce - bcs - 1, 0)))
    return out


@lint(
    "e_tor_service_descriptor_invalid",
    Severity.ERROR,
    "EV Guidelines Appendix F (ballot 201)",
    "A certificate with onion names carries one TorServiceDescriptor per onion name, each "
    "with a UTF-8 onion URI for a name in the certificate and a SHA-2 hash of the right length.",
    CERT,
    cert_types=LEAF_TYPES,
    effective=br.TOR_SERVICE_DESCRIPTOR_FROM,
    ineffective=br.ONION_V3_FROM,
)
def tor_descriptors(doc: CertificateDocument, ctx: LintContext) -> Out:
    onions = {n.lower() for n in doc.dns_names if n.lower().endswith(".onion")}
    if not onions:
        return ()
    where = f"{EXT}.torServiceDescriptor"
    ext = doc.ext.get(OID_TOR_SERVICE_DESCRIPTOR)
    if ext is None:
        return [(EXT, "onion names without the TorServiceDescriptor extension")]
    try:
        descriptors = _descriptors(ext.value)
    except DerError as exc:
        return [(where, f"cannot decode the extension: {exc}")]
    out, described = [], []
    for uri, oid, size in descriptors:
        try:
            host = uri.decode("utf-8").split("://", 1)[-1].split("/", 1)[0].lower()
        except UnicodeDecodeError:
            out.append((where, f"onionURI {uri!r} is not UTF-8"))
            continue
        if oid not in _DIGESTS:
            out.append((where, f"{host}: hash algorithm {oid} is not SHA-256, -384 or -512"))
        elif size != _DIGESTS[oid]:
            out.append((where, f"{host}: a {size}-octet hash for a {_DIGESTS[oid]}-octet digest"))
        if host not in onions or host in described:
            out.append((where, f"{host}: a descriptor for no onion name, or a second one"))
        described.append(host)
    out += [(where, f"{name}: no descriptor") for name in sorted(onions - set(described))]
    return out
