"""certkeeper's OCSP lints on every response an audit fetches, at audit speed.

Running the whole catalogue costs about 0.75 ms a response; a coverage audit fetches
thousands a second. A responder's pre-signed responses come in few *shapes* (issuer,
responder, status, reason, times: whatever a signing batch shared), and two responses
of one shape (`ocsp_response.ParsedResponse.shape`) differ only in the serial's
content octets and the signature value. So:

- the first response of each shape gets every certkeeper OCSP lint, and the findings
  of every lint but the two that look at those fields are remembered for the shape;
- every response gets those two checks itself: its signature is verified with the
  signer's key (the embedded responder certificate, else the issuer), and its serial
  must be a positive INTEGER of at most 20 octets (RFC 5280 4.1.2.2);
- a response that fails either check, or that the fast walk cannot read, is linted in
  full on its own, so its findings come from the lint engine, with their messages.

The result for every response equals what `run_lints` would report for it (a test
holds a mixed stream of responses to that).
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from certkeeper.audit.ocsp_response import ParsedResponse
from certkeeper.lint.catalogue import run_lints
from certkeeper.lint.cert.common import verify_signature
from certkeeper.lint.context import LintContext
from certkeeper.lint.document.ocsp import OcspResponseDocument
from certkeeper.lint.document.values import AlgId, parse_alg
from certkeeper.lint.engine import Finding, Severity
from certkeeper.x509.der import DerError
from certkeeper.x509.oids import SIG_ECDSA_SHA256, SIG_ECDSA_SHA384, SIG_ECDSA_SHA512

# ECDSA signature algorithms (RFC 5758 3.2: no parameters) and their hashes.
_EC_HASHES = {
    SIG_ECDSA_SHA256: "SHA256",
    SIG_ECDSA_SHA384: "SHA384",
    SIG_ECDSA_SHA512: "SHA512",
}


def _fast(check: Callable[[bytes, bytes], None]) -> Callable[[bytes, bytes], bool]:
    def verify(tbs: bytes, signature: bytes) -> bool:
        try:
            check(tbs, signature)
        except InvalidSignature:
            return False
        return True

    return verify


def _slow(key: Any, alg: AlgId, tbs: bytes, signature: bytes) -> bool:
    return verify_signature(key, alg, tbs, signature) is None


# The lints whose outcome can differ between two responses of one shape.
PER_RESPONSE_LINTS = frozenset({"e_ocsp_signature_invalid", "e_ocsp_certid_serial_invalid"})
SHAPE_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class LintOutcome:
    findings: tuple[Finding, ...]
    full_run: bool  # True when the whole catalogue ran on this very response

    def at_least(self, severity: Severity) -> list[Finding]:
        return [f for f in self.findings if f.severity >= severity]


@dataclass
class OcspLintCache:
    """Lints responses for one audit. Not thread-safe; one per worker process."""

    full_runs: int = 0
    cached: int = 0
    _shapes: OrderedDict[tuple[bytes, bytes], tuple[Finding, ...]] = field(
        default_factory=OrderedDict
    )
    _keys: dict[bytes, Any] = field(default_factory=dict)
    _algs: dict[bytes, AlgId | None] = field(default_factory=dict)
    _contexts: dict[bytes, LintContext] = field(default_factory=dict)
    _verifiers: dict[tuple[bytes, bytes], Callable[[bytes, bytes], bool] | None] = field(
        default_factory=dict
    )

    def _context(self, issuer_der: bytes) -> LintContext:
        ctx = self._contexts.get(issuer_der)
        if ctx is None:
            ctx = LintContext(issuer=x509.load_der_x509_certificate(issuer_der))
            self._contexts[issuer_der] = ctx
        return ctx

    def full(self, der: bytes, issuer_der: bytes) -> LintOutcome:
        """Every certkeeper OCSP lint on this response."""
        self.full_runs += 1
        findings = run_lints(OcspResponseDocument.from_der(der), self._context(issuer_der))
        return LintOutcome(tuple(findings), True)

    def _public_key(self, parsed: ParsedResponse, issuer_der: bytes) -> Any:
        cert = parsed.signer_certificate or issuer_der
        key = self._keys.get(cert)
        if key is None and cert not in self._keys:
            try:
                key = x509.load_der_x509_certificate(cert).public_key()
            except ValueError:
                key = None
            self._keys[cert] = key
        return key

    def _alg(self, raw: bytes) -> AlgId | None:
        if raw not in self._algs:
            try:
                self._algs[raw] = parse_alg(raw, (raw[0], 2, len(raw)), "signatureAlgorithm")
            except (DerError, IndexError):
                self._algs[raw] = None
        return self._algs[raw]

    def _per_response_ok(self, parsed: ParsedResponse, issuer_der: bytes) -> bool:
        for single in parsed.singles:
            s = single.serial_content
            if s[0] & 0x80 or not any(s) or len(s) > 20:
                return False
        if len(parsed.signature_algorithm) > 129:  # parse_alg's content span assumes it
            return False
        verifier = self._verifier(parsed, issuer_der)
        return verifier is not None and verifier(parsed.tbs, parsed.signature)

    def _verifier(
        self, parsed: ParsedResponse, issuer_der: bytes
    ) -> Callable[[bytes, bytes], bool] | None:
        """A signature check for (signer, algorithm), built once: the ECDSA and RSA
        PKCS#1 v1.5 objects are made once instead of per response. Other algorithms go
        through the lint's own `verify_signature`."""
        cache_key = (parsed.signer_certificate or issuer_der, parsed.signature_algorithm)
        if cache_key in self._verifiers:
            return self._verifiers[cache_key]
        key = self._public_key(parsed, issuer_der)
        alg = self._alg(parsed.signature_algorithm)
        verifier: Callable[[bytes, bytes], bool] | None = None
        if key is not None and alg is not None:
            hname = _EC_HASHES.get(alg.oid) if alg.params is None else None
            if isinstance(key, ec.EllipticCurvePublicKey) and hname is not None:
                scheme = ec.ECDSA(getattr(hashes, hname)())
                verifier = _fast(lambda tbs, sig: key.verify(sig, tbs, scheme))
            else:
                verifier = functools.partial(_slow, key, alg)
        self._verifiers[cache_key] = verifier
        return verifier

    def check(self, der: bytes, parsed: ParsedResponse | None, issuer_der: bytes) -> LintOutcome:
        """The findings certkeeper's OCSP lints report for `der`, issued by `issuer_der`.

        `parsed` is the fast walk of `der`, or None when the walk refused it."""
        if parsed is None or parsed.response_status != 0:
            return self.full(der, issuer_der)
        if not self._per_response_ok(parsed, issuer_der):
            return self.full(der, issuer_der)
        key = (parsed.shape, issuer_der)
        known = self._shapes.get(key)
        if known is not None:
            self._shapes.move_to_end(key)
            self.cached += 1
            return LintOutcome(known, False)
        outcome = self.full(der, issuer_der)
        self._shapes[key] = tuple(
            f for f in outcome.findings if f.lint_id not in PER_RESPONSE_LINTS
        )
        if len(self._shapes) > SHAPE_CACHE_SIZE:
            self._shapes.popitem(last=False)
        return outcome
