"""Does the configured resolver validate DNSSEC? Asked once, when a validating process starts.

Every lookup trusts the resolver's AD bit (dnsclient.py): a resolver that does not validate
would make every zone look "insecure", which is allowed, so a misconfigured resolver would
quietly turn BR 3.2.2.4 / 4.2.2.1.1 validation off. `serve acme`, `serve va-remote` and
`certkeeper validate --check` therefore ask it first:

- the SOA of `dnssec_probe` (the root by default, signed under the IANA root trust anchor,
  or under a test anchor in tests) must come back with AD set: the chain validated;
- if `dnssec_bogus_probe` names a zone known to be bogus, asking for its SOA must fail
  validation (SERVFAIL), as only a validating resolver fails it.

Anything else is one line naming the resolver, and the process does not start.
"""

from __future__ import annotations

import time

from certkeeper.errors import ConfigError
from certkeeper.settings.validation import ValidationSettings
from certkeeper.validation.dnsclient import SECURE, LookupFailed, lookup, nameservers


def resolver_label(settings: ValidationSettings) -> str:
    """The resolver as an operator configured it ("system resolver a:53" when unset)."""
    if settings.resolver:
        return f"resolver {settings.resolver}"
    servers = ", ".join(f"{host}:{port}" for host, port in nameservers(settings))
    return f"system resolver {servers or '(none in /etc/resolv.conf)'}"


def check_validating(settings: ValidationSettings) -> str:
    """Raise ConfigError unless the resolver validates DNSSEC; returns what was proven."""
    who = resolver_label(settings)
    probe = settings.dnssec_probe
    shown = probe if probe != "." else "the root"
    deadline = time.monotonic() + settings.timeout_seconds
    try:
        answer = lookup(probe, "SOA", settings, deadline)
    except LookupFailed as exc:
        raise ConfigError(
            f"{who} does not validate DNSSEC: the SOA of {shown} failed ({exc}); "
            "BR 3.2.2.4 needs a validating resolver ([validation] resolver)"
        ) from None
    if answer.dnssec != SECURE:
        raise ConfigError(
            f"{who} does not validate DNSSEC: the SOA of {shown} came back without the AD "
            "bit; BR 3.2.2.4 needs a validating resolver ([validation] resolver)"
        )
    proven = f"{who} validates DNSSEC ({shown} secure"
    bogus = settings.dnssec_bogus_probe
    if bogus:
        try:
            lookup(bogus, "SOA", settings, time.monotonic() + settings.timeout_seconds)
        except LookupFailed as exc:
            if exc.dnssec is None and "SERVFAIL" not in str(exc):
                raise ConfigError(
                    f"{who}: the DNSSEC check of {bogus} failed without a verdict ({exc})"
                ) from None
        else:
            raise ConfigError(
                f"{who} does not validate DNSSEC: it answered for {bogus}, which is signed "
                "wrongly and must fail validation"
            )
        proven += f", {bogus} bogus"
    return proven + ")"


def require_validating(settings: ValidationSettings) -> None:
    """For an operator command of a public CA: refuse (ConfigError) unless the resolver
    validates; `dnssec_check = false` (tests) skips the question."""
    if settings.dnssec_check:
        check_validating(settings)


def startup_line(settings: ValidationSettings, public: bool = True) -> str:
    """The line a validating process prints when it starts.

    For a public CA (BR 3.2.2.4, 3.2.2.8.1) a resolver that does not validate raises
    ConfigError (one line) and the process does not start. A non-public home is not bound
    by the BRs: it starts, with the same finding as a warning. `dnssec_check = false`
    (tests whose DNS server cannot sign) skips the question and says so, never silently."""
    if not settings.dnssec_check:
        return (
            f"WARNING: DNSSEC validation by {resolver_label(settings)} is not checked "
            "([validation] dnssec_check = false: tests only, never for a public CA)"
        )
    try:
        return check_validating(settings)
    except ConfigError as exc:
        if public:
            raise
        return f"WARNING: {exc} (a non-public CA starts anyway)"
