"""`init` signs no CA certificate the lint gate has not passed: root, issuing CAs and
responders go through the same throwaway-key gate as `ca add-issuer`, and a base_url
that would put an internal name or an IP address in their URLs is refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from certkeeper.ca.home import HIERARCHY, InitOptions, create_home
from certkeeper.cli.main import app
from certkeeper.errors import ConfigError, IssuanceRefused
from certkeeper.lint.engine import CertType
from certkeeper.lint.gate import LintGate
from factories import PASSPHRASE


def test_every_certificate_init_signs_passes_the_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[CertType] = []
    real = LintGate.check_certificate

    def recording(self: LintGate, der: bytes, cert_type: CertType, *args: object) -> object:
        seen.append(cert_type)
        return real(self, der, cert_type, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(LintGate, "check_certificate", recording)
    create_home(tmp_path / "home", InitOptions(), PASSPHRASE.encode())
    expected = {
        "root": CertType.ROOT,
        "issuing": CertType.SUBORDINATE_CA,
        "responder": CertType.OCSP_RESPONDER,
    }
    assert seen == [expected[role] for _, role, *_ in HIERARCHY]


def test_a_ca_certificate_that_fails_a_lint_is_never_signed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with pytest.raises(IssuanceRefused) as refused:
        create_home(home, InitOptions(organization="O" * 70), PASSPHRASE.encode())
    message = str(refused.value)
    assert message.startswith("init: root: the root certificate fails the lint gate: ")
    assert "e_subject_attribute_too_long" in message
    assert not home.exists() and list(tmp_path.iterdir()) == []  # no half-made home


@pytest.mark.parametrize(
    ("base_url", "problem"),
    [
        ("http://pki.internal", "names pki.internal, an internal name (.internal is not"),
        ("http://10.1.2.3:8080", "names the IP address 10.1.2.3;"),
        ("http://[2001:db8::1]", "names the IP address 2001:db8::1;"),
        ("http://localhost", "names localhost, an internal name"),
        ("http://co.uk", "names co.uk, which is itself a public suffix"),
    ],
)
def test_a_base_url_pkilint_would_flag_is_refused_with_the_key_named(
    tmp_path: Path, base_url: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        create_home(tmp_path / "home", InitOptions(base_url=base_url), PASSPHRASE.encode())
    assert str(refused.value).startswith(f"[ca] base_url {base_url!r} (--base-url): {problem}")
    assert not (tmp_path / "home").exists()


def test_the_cli_names_the_key_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["init", "--home", str(tmp_path / "h"), "--base-url", "http://pki.internal"],
        env={"CERTKEEPER_PASSPHRASE": PASSPHRASE},
    )
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: [ca] base_url 'http://pki.internal' (--base-url): ")
