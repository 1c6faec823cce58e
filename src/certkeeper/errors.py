"""The one error type the shells turn into a single clear line and a non-zero exit."""

from __future__ import annotations


class CertkeeperError(Exception):
    """A problem the user can act on; its message is one line that names the problem."""

    exit_code = 1


class ConfigError(CertkeeperError):
    """The CA home or its configuration is missing, corrupt or invalid."""


class ProfileError(CertkeeperError):
    """A profile file is malformed, names an unknown key, or asks for a disallowed value."""


class InputError(CertkeeperError):
    """A CSR, certificate, CRL, OCSP message or other input file is malformed."""


class IssuanceRefused(CertkeeperError):
    """Issuance stopped before the real key signed anything; the message says why."""

    exit_code = 3


class NotFound(CertkeeperError):
    """A serial, fingerprint, issuer, profile or subscriber does not exist."""
