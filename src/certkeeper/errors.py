"""The one error type the shells turn into a single clear line and a non-zero exit.

Exit codes, one meaning each so that a script can tell them apart (README "Exit codes"):
"""

from __future__ import annotations

EXIT_BAD_INPUT = 1  # bad input or configuration: the command could not do its job
EXIT_USAGE = 2  # the command line itself is wrong (the CLI parser's own code)
EXIT_REFUSED = 3  # a safeguard refused: issuance, publication, a disabled profile
EXIT_FINDINGS = 4  # the command ran and found problems: lints, audits, a missed deadline
EXIT_PARTIAL = 5  # a run over many items finished, and some (or all) items failed
EXIT_INTERRUPTED = 130  # stopped by Ctrl-C (128 + SIGINT)


class CertkeeperError(Exception):
    """A problem the user can act on; its message is one line that names the problem."""

    exit_code = EXIT_BAD_INPUT


class ConfigError(CertkeeperError):
    """The CA home or its configuration is missing, corrupt or invalid."""


class ProfileError(CertkeeperError):
    """A profile file is malformed, names an unknown key, or asks for a disallowed value."""


class InputError(CertkeeperError):
    """A CSR, certificate, CRL, OCSP message or other input file is malformed."""


class IssuanceRefused(CertkeeperError):
    """Issuance stopped before the real key signed anything; the message says why."""

    exit_code = EXIT_REFUSED


class NameNotAuthorized(IssuanceRefused):
    """A name failed domain authorization at issuance (BR 3.2.2.4 record, CAA, TLD/PSL).

    `problem_type` is the RFC 8555 error suffix the ACME server reports: "unauthorized",
    "caa", "dns" or "rejectedIdentifier"."""

    def __init__(self, message: str, *, problem_type: str, name: str) -> None:
        super().__init__(message)
        self.problem_type = problem_type
        self.name = name


class NotFound(CertkeeperError):
    """A serial, fingerprint, issuer, profile or subscriber does not exist."""
