"""Errors of the validation authority."""

from __future__ import annotations

from certkeeper.errors import InputError


class RejectedIdentifier(InputError):
    """An identifier this CA will never validate at this moment (syntax, TLD, PSL, internal
    name). The ACME server reports it as urn:ietf:params:acme:error:rejectedIdentifier."""

    problem_type = "rejectedIdentifier"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
