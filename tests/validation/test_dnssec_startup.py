"""The startup check that the configured resolver validates DNSSEC: against the test trust
anchor of the signed zones, a validating unbound passes; the zones' own authoritative
server, pebble-challtestsrv and a dead address are each one line naming the resolver,
from `serve acme`, `serve va-remote` and `certkeeper validate --check` alike."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from certkeeper.errors import ConfigError
from certkeeper.settings.validation import ValidationSettings
from certkeeper.validation.dnssec_check import check_validating, startup_line
from dnsserver import ChallTestSrv, free_port
from factories import PASSPHRASE, make_home
from public_ct import PublicCt
from signed_zones import PARENT, SignedZones
from validation.mpic_helpers import Pki

CERTKEEPER = Path(sys.executable).parent / "certkeeper"
BOGUS = f"expired.{PARENT}"  # every RRSIG expired in 2020


def settings(resolver: str, **kw: object) -> ValidationSettings:
    return ValidationSettings(**{"resolver": resolver, "timeout_seconds": 3.0, **kw})  # type: ignore[arg-type]


def test_a_validating_resolver_passes(zones: SignedZones) -> None:
    line = check_validating(settings(zones.resolver, dnssec_bogus_probe=BOGUS))
    assert line == (f"resolver {zones.resolver} validates DNSSEC (the root secure, {BOGUS} bogus)")
    assert "secure" in check_validating(settings(zones.resolver, dnssec_probe=f"ok8.{PARENT}"))


def test_the_authoritative_server_does_not_validate(zones: SignedZones) -> None:
    with pytest.raises(ConfigError) as caught:
        check_validating(settings(zones.authoritative))
    text = str(caught.value)
    assert text.startswith(f"resolver {zones.authoritative} does not validate DNSSEC")
    assert "AD bit" in text and "\n" not in text


def test_an_unsigned_probe_proves_nothing(zones: SignedZones) -> None:
    with pytest.raises(ConfigError, match="without the AD bit"):
        check_validating(settings(zones.resolver, dnssec_probe=f"unsigned.{PARENT}"))


def test_a_bogus_name_that_resolves_is_refused(zones: SignedZones) -> None:
    # a known-signed probe that is fine, and a "bogus" probe that is in fact valid
    with pytest.raises(ConfigError, match=f"it answered for ok13.{PARENT}"):
        check_validating(settings(zones.resolver, dnssec_bogus_probe=f"ok13.{PARENT}"))


def test_challtestsrv_and_a_dead_resolver_are_one_line() -> None:
    with ChallTestSrv.start() as dns, pytest.raises(ConfigError) as caught:
        check_validating(settings(dns.address))
    assert str(caught.value).startswith(f"resolver {dns.address} does not validate DNSSEC")
    dead = f"127.0.0.1:{free_port()}"
    with pytest.raises(ConfigError) as caught:
        check_validating(settings(dead, timeout_seconds=0.5))
    assert str(caught.value).startswith(f"resolver {dead} does not validate DNSSEC")


def test_switched_off_for_tests_it_says_so() -> None:
    line = startup_line(settings("127.0.0.1:1", dnssec_check=False))
    assert line.startswith("WARNING: DNSSEC validation by resolver 127.0.0.1:1 is not checked")


# --- the processes -------------------------------------------------------------------------


def env() -> dict[str, str]:
    return {**os.environ, "CERTKEEPER_PASSPHRASE": PASSPHRASE}


def home_with(tmp_path: Path, resolver: str, ct: PublicCt | None = None) -> Path:
    """A public home (BR-bound) when `ct` is given, else a non-public one."""
    home = make_home(tmp_path / "home", ct, public=ct is not None)
    config = home / "certkeeper.toml"
    config.write_text(
        config.read_text()
        + f'\n[validation]\nresolver = "{resolver}"\nmpic_required = false\ntimeout_seconds = 3\n'
    )
    return home


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0 and len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_serve_acme_refuses_a_resolver_that_does_not_validate(
    zones: SignedZones, tmp_path: Path, public_ct: PublicCt
) -> None:
    home = home_with(tmp_path, zones.authoritative, public_ct)
    port = str(free_port())
    result = subprocess.run(
        [str(CERTKEEPER), "serve", "acme", "--home", str(home), "--port", port],
        capture_output=True,
        text=True,
        env=env(),
        timeout=60,
    )
    line = one_line(result)
    assert f"resolver {zones.authoritative} does not validate DNSSEC" in line
    # `certkeeper validate --check` asks the same question before any lookup
    result = subprocess.run(
        [
            *(str(CERTKEEPER), "validate", "www.example.com"),
            *("--method", "dns-change", "--check", "--home", str(home)),
        ],
        capture_output=True,
        text=True,
        env=env(),
        timeout=60,
    )
    assert f"resolver {zones.authoritative} does not validate DNSSEC" in one_line(result)


def serve_acme(home: Path, log: Path) -> None:
    """Start `serve acme`, wait for its directory, stop it; stderr goes to `log`."""
    port = free_port()
    with log.open("w") as err:
        proc = subprocess.Popen(
            [
                *(str(CERTKEEPER), "serve", "acme", "--home", str(home)),
                *("--port", str(port), "--server", "uvicorn"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env(),
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/acme/directory", timeout=2):
                    break
            except OSError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_serve_acme_starts_behind_a_validating_resolver(
    zones: SignedZones, tmp_path: Path, public_ct: PublicCt
) -> None:
    log = tmp_path / "stderr.txt"
    serve_acme(home_with(tmp_path, zones.resolver, public_ct), log)
    assert f"resolver {zones.resolver} validates DNSSEC (the root secure)" in log.read_text()


def test_a_non_public_home_starts_with_a_warning(zones: SignedZones, tmp_path: Path) -> None:
    log = tmp_path / "stderr.txt"
    serve_acme(home_with(tmp_path, zones.authoritative), log)
    assert f"WARNING: resolver {zones.authoritative} does not validate DNSSEC" in log.read_text()


def test_serve_va_remote_refuses_a_resolver_that_does_not_validate(
    zones: SignedZones, tmp_path: Path
) -> None:
    made = subprocess.run(
        [str(CERTKEEPER), "mpic", "pki", "--out", str(tmp_path), "--perspective", "east=127.0.0.1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    pki = Pki(tmp_path)
    result = subprocess.run(
        [
            *(str(CERTKEEPER), "serve", "va-remote", "--name", "east", "--region", "ARIN"),
            *("--cert", str(pki.cert("east")), "--key", str(pki.key("east"))),
            *("--client-ca", str(pki.ca)),
            *("--resolver", zones.authoritative, "--port", str(free_port())),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert f"resolver {zones.authoritative} does not validate DNSSEC" in one_line(result)
