"""The service units in deploy/systemd: accepted by systemd itself, hardened the same
way, and every command they run is one the CLI has (with the options they pass)."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from certkeeper.cli.main import app

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
INSTALLED = "/opt/certkeeper/bin/certkeeper"
SERVICES = sorted(UNITS.glob("*.service"))
TIMERS = sorted(UNITS.glob("*.timer"))
HARDENING = {
    "User": "certkeeper",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "UMask": "0077",
}
SAMPLE_ENV = {
    "OCSP_HOST": "0.0.0.0",
    "OCSP_PORT": "8080",
    "OCSP_WORKERS": "2",
    "ACME_HOST": "0.0.0.0",
    "ACME_PORT": "443",
    "ACME_WORKERS": "2",
    "REGION": "RIPE",
    "PORT": "8443",
    "RESOLVER": "127.0.0.1:53",
    "CRL_WATCH_SOURCE": "/var/lib/certkeeper/home/crl",
}


def service_section(path: Path) -> dict[str, list[str]]:
    """Key -> every value it is given in [Service] (keys may repeat)."""
    values: dict[str, list[str]] = {}
    section = None
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


def test_the_units_are_there() -> None:
    names = {p.name for p in SERVICES}
    assert {
        "certkeeper-ocsp.service",
        "certkeeper-acme.service",
        "certkeeper-va-remote@.service",
        "certkeeper-ocsp-refresh.service",
        "certkeeper-crl-publish.service",
        "certkeeper-crl-watch.service",
        "certkeeper-incident-notify@.service",
        "certkeeper-relint.service",
    } <= names
    for timer in TIMERS:  # every timer starts a service that exists
        assert (UNITS / timer.name.replace(".timer", ".service")).is_file(), timer.name


def test_systemd_analyze_verify_accepts_every_unit(tmp_path: Path) -> None:
    """Verified as installed, with the real entry point in place of /opt/certkeeper."""
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze is missing (Debian package systemd)"
    entry = Path(sys.executable).with_name("certkeeper")
    assert entry.is_file()
    for unit in [*SERVICES, *TIMERS]:
        name = unit.name.replace("@.", "@test.")  # verify an instance of each template
        (tmp_path / name).write_text(unit.read_text().replace(INSTALLED, str(entry)))
    result = subprocess.run(
        [tool, "verify", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # Unknown or misspelt keys are only warnings for systemd: any output is a failure.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_a_misspelt_key_is_caught_by_the_same_check(tmp_path: Path) -> None:
    unit = tmp_path / "bad.service"
    entry = Path(sys.executable).with_name("certkeeper")
    unit.write_text(f"[Service]\nExecStart={entry} --version\nRestrt=on-failure\n")
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert "Unknown key 'Restrt'" in result.stderr


@pytest.mark.parametrize("unit", SERVICES, ids=lambda p: p.name)
def test_every_service_is_hardened(unit: Path) -> None:
    service = service_section(unit)
    for key, value in HARDENING.items():
        assert service.get(key, [None])[-1] == value, f"{unit.name}: {key}"
    assert service["CapabilityBoundingSet"][-1] in ("", "CAP_NET_BIND_SERVICE")
    writable = [p for v in service.get("ReadWritePaths", []) for p in v.split()]
    assert set(writable) <= {"/var/lib/certkeeper"}, unit.name
    command = service["ExecStart"][-1]
    # The passphrase comes as a systemd credential, never on a command line or in env.
    assert "PASSPHRASE" not in command and "PASSPHRASE" not in str(service.get("Environment"))
    signs = re.search(r"certkeeper (serve acme|ocsp refresh|crl publish)\b", command)
    has_credential = service.get("LoadCredential", [""])[-1].startswith("passphrase:")
    assert has_credential == bool(signs), unit.name


@pytest.mark.parametrize("unit", SERVICES, ids=lambda p: p.name)
def test_every_command_a_unit_runs_exists_with_its_options(unit: Path) -> None:
    command = service_section(unit)["ExecStart"][-1]
    for name, value in SAMPLE_ENV.items():
        command = command.replace("${" + name + "}", value)
    assert "${" not in command, f"{unit.name}: an unset variable in {command}"
    argv = shlex.split(command.replace("%i", "instance"))
    assert argv[0] == INSTALLED
    result = CliRunner().invoke(app, [*argv[1:], "--help"])
    assert result.exit_code == 0, f"{unit.name}: {argv[1:]}: {result.output}"


def test_timers_are_persistent_and_spread() -> None:
    for timer in TIMERS:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_string(timer.read_text())
        assert parser["Timer"]["Persistent"] == "true", timer.name
        assert parser["Timer"]["OnCalendar"], timer.name
        assert parser["Timer"]["RandomizedDelaySec"], timer.name
