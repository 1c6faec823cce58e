"""The issuance service's own CT check: in a public home no final certificate is signed
unless its SCT list verifies and meets the CT policy, whatever SCT source produced it.

The SCT source already verifies what it collects; this check is the second lock, so a
library caller who passes another source (or none) gets a waiting precertificate, never
an unlogged final certificate (docs/ct.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509

from certkeeper.ct.loglist import LogList, load_log_list
from certkeeper.ct.policy import required_for
from certkeeper.ct.sct import SctError, decode_sct_list, precert_entry, verify_sct
from certkeeper.errors import EXIT_REFUSED, ConfigError, IssuanceRefused
from certkeeper.settings.ct import CtSettings


class SctsUnavailable(IssuanceRefused):
    """Raised by an SctSource that cannot meet the CT policy by its deadline (and by the
    issuance service's own check): the precertificate then waits for SCTs."""


class CtNotConfigured(ConfigError):
    """A public home whose `[ct]` names no log list: browsers reject a publicly-trusted
    certificate without SCTs, so such a home issues nothing rather than unlogged ones."""

    exit_code = EXIT_REFUSED


def require_log_list(settings: CtSettings, home: object) -> None:
    if settings.log_list is None:
        raise CtNotConfigured(
            f"{home}: a public home issues only with embedded SCTs, and its certkeeper.toml "
            "names no CT log list; set [ct] log_list (docs/ct.md)"
        )


class CtCompliance:
    """Checks an SCT list for one precertificate against a log list and the policies."""

    def __init__(self, loglist: LogList, policies: Sequence[str]) -> None:
        self.loglist = loglist
        self.policies = tuple(policies)

    @classmethod
    def for_home(cls, settings: CtSettings, home: object) -> CtCompliance:
        require_log_list(settings, home)
        assert settings.log_list is not None
        return cls(load_log_list(str(settings.log_list)), settings.submission.policies)

    def problem(
        self, sct_list: bytes | None, precertificate_der: bytes, issuer: x509.Certificate
    ) -> str | None:
        """Why this SCT list may not go into the final certificate, or None if it may."""
        if sct_list is None:
            return "no SCTs: a public home embeds SCTs in every certificate"
        try:
            scts = decode_sct_list(sct_list)
        except SctError as exc:
            return f"the SCT list does not decode: {exc}"
        pre = x509.load_der_x509_certificate(precertificate_der)
        entry = precert_entry(precertificate_der, issuer)
        pairs: dict[bytes, str] = {}
        for sct in scts:
            log = self.loglist.by_id(sct.log_id)
            if log is None:
                return f"an SCT names log {sct.log_id.hex()}, which the log list does not hold"
            try:
                verify_sct(sct, log.key, entry)
            except SctError as exc:
                return f"the SCT of {log.description}: {exc}"
            pairs[sct.log_id] = log.operator
        need = required_for(pre.not_valid_before_utc, pre.not_valid_after_utc, self.policies)
        return need.unmet(pairs.items())
