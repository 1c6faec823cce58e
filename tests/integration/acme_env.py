"""A whole CA on loopback for real ACME clients: home, server process, DNS, tool runners.

`AcmeCa.start()` makes a CA home whose AIA/OCSP URLs point at the server it then runs
(`certkeeper serve`: ACME, OCSP, CRLs and issuer certificates on one port), with the
validation authority's http-01 port and DNS resolver set to test values: every name
resolves to 127.0.0.1 through pebble-challtestsrv, whose TXT and CAA records the tests
(and the clients' dns-01 hooks) set. `certbot()` and `lego()` run Debian's clients with
their state in a per-test directory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certkeeper.ca.home import CaHome
from certkeeper.store.validations import CaaCheck, DomainValidation, DomainValidationStore
from certkeeper.validation.pki import Endpoint, issue_pki
from certkeeper.validation.quorum import policy_at
from dnsserver import ChallTestSrv, free_port
from factories import PASSPHRASE, make_home

if TYPE_CHECKING:
    from public_ct import PublicCt

ROOT = Path(__file__).resolve().parents[2]
# The ARI-capable client of the benchmarks (also used here for `replaces`).
if str(ROOT / "benchmarks") not in sys.path:
    sys.path.insert(0, str(ROOT / "benchmarks"))

from acme_client import ari_cert_id  # noqa: E402

CERTKEEPER = ROOT / ".venv" / "bin" / "certkeeper"
HOOK = Path(__file__).resolve().with_name("dns_hook.py")
CERTBOT = "/usr/bin/certbot"
# the newest certbot from PyPI (ARI, ACME profiles), installed by scripts/setup.sh
CERTBOT_PYPI = str(ROOT / ".venv-certbot" / "bin" / "certbot")
LEGO = "/usr/bin/lego"
OPENSSL = "/usr/bin/openssl"
# The CA's issuer domain name in CAA records (RFC 8659 4.2).
CAA_IDENTITY = "ca.certkeeper.test"
CLIENT_TIMEOUT = 120


class ToolFailed(AssertionError):
    """A client or CLI run failed where the test expected success."""


@dataclass(frozen=True)
class Run:
    args: list[str]
    returncode: int
    output: str  # stdout and stderr together, as a person running it would read

    def check(self) -> Run:
        if self.returncode != 0:
            raise ToolFailed(
                f"{' '.join(self.args[:3])} ... exited {self.returncode}:\n{self.output}"
            )
        return self


def run(args: list[str], env: dict[str, str], cwd: Path | None = None) -> Run:
    proc = subprocess.run(
        args,
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        timeout=CLIENT_TIMEOUT,
        check=False,
    )
    return Run(args, proc.returncode, proc.stdout.decode("utf-8", "replace"))


# As many remote perspectives as BR 3.2.2.9 requires today (four from 2026-06-15, five
# from 2026-12-15), in distinct RIR regions; the quorum rules then allow one failure.
_ALL_PERSPECTIVES = (
    ("east", "ARIN"),
    ("west", "RIPE"),
    ("south", "LACNIC"),
    ("apac", "APNIC"),
    ("africa", "AFRINIC"),
)
PERSPECTIVES = _ALL_PERSPECTIVES[: policy_at(datetime.now(UTC).date()).minimum_remote]


def start_process(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server started by `start_process` and its workers (its own process group)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_tcp(host: str, port: int, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited:\n{log_path.read_text(errors='replace')}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {host}:{port}")


@dataclass
class Perspective:
    """One remote network perspective: `certkeeper serve va-remote` on its own loopback
    address, with its own resolver (the same test DNS server, never a shared cache)."""

    name: str
    region: str
    address: str
    port: int
    args: list[str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://{self.address}:{self.port}"

    def start(self, env: dict[str, str]) -> None:
        self.proc = start_process(self.args, env, self.log_path)

    def wait(self) -> None:
        assert self.proc is not None
        wait_tcp(self.address, self.port, self.proc, self.log_path)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)


@dataclass
class AcmeCa:
    home: Path
    port: int
    http_port: int
    tls_alpn_port: int
    dns: ChallTestSrv
    perspectives: list[Perspective]
    proc: subprocess.Popen[bytes]
    log_path: Path
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def directory(self) -> str:
        return f"{self.base}/acme/directory"

    @property
    def ocsp_url(self) -> str:
        return f"{self.base}/ocsp"

    @classmethod
    def start(cls, workdir: Path, dns: ChallTestSrv, ct: PublicCt) -> AcmeCa:
        port, http_port, tls_alpn_port = free_port(), free_port(), free_port()
        # AIA and CRL URLs keep a public-looking host (the linters refuse an IP address
        # there); the tests give openssl the responder's loopback URL directly.
        home = make_home(workdir / "home", ct, public=True)
        env = dict(os.environ, CERTKEEPER_PASSPHRASE=PASSPHRASE, CERTKEEPER_HOME=str(home))
        perspectives = make_perspectives(home / "mtls", workdir, dns, http_port, tls_alpn_port)
        config = home / "certkeeper.toml"
        config.write_text(
            config.read_text()
            + "\n[validation]\n"
            + f"http_port = {http_port}\n"
            + f"tls_alpn_port = {tls_alpn_port}\n"
            + f'resolver = "{dns.address}"\n'
            + "timeout_seconds = 10\n"
            + "private_addresses = true\n"
            + "dnssec_check = false\n"  # pebble-challtestsrv signs nothing
            + f'caa_identities = ["{CAA_IDENTITY}"]\n'
            + "mpic_required = true\n"
            + 'mpic_client_cert = "mtls/primary.pem"\n'
            + 'mpic_client_key = "mtls/primary.key"\n'
            + 'mpic_ca_file = "mtls/ca.pem"\n'
            + "".join(
                f'\n[[validation.perspectives]]\nname = "{p.name}"\n'
                f'region = "{p.region}"\nurl = "{p.url}"\n'
                for p in perspectives
            )
            + "\n[acme]\n"
            + "accounts_per_ip_per_3_hours = 1000\n"
            + "certificates_per_domain_per_week = 1000\n"
            + "orders_per_account_per_hour = 1000\n"
        )
        log_path = workdir / "server.log"
        for perspective in perspectives:
            perspective.start(env)
        proc = start_process(
            [str(CERTKEEPER), "serve", "--home", str(home), "--port", str(port)], env, log_path
        )
        ca = cls(
            home, port, http_port, tls_alpn_port, dns, perspectives, proc, log_path, workdir, env
        )
        try:
            for perspective in perspectives:
                perspective.wait()
            ca._wait_ready()
        except BaseException:
            ca.stop()
            raise
        return ca

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"certkeeper serve exited:\n{self.server_log()}")
            try:
                with urllib.request.urlopen(self.directory, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"no ACME directory at {self.directory}:\n{self.server_log()}")

    def server_log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        stop_process(self.proc)
        for perspective in self.perspectives:
            perspective.stop()

    # --- the CA's own tools -------------------------------------------------------------

    def cli(self, *args: str) -> Run:
        return run([str(CERTKEEPER), *args, "--home", str(self.home)], self.env)

    def trust_files(self) -> tuple[Path, Path]:
        """(root certificate, every issuing CA certificate) as PEM files for openssl."""
        certs = self.home / "certs"
        issuers = self.workdir / "issuers.pem"
        issuers.write_bytes(b"".join(p.read_bytes() for p in sorted(certs.glob("tls-*.pem"))))
        return certs / "root.pem", issuers

    def openssl_verify(self, leaf: Path) -> Run:
        root, issuers = self.trust_files()
        return run(
            [OPENSSL, "verify", "-CAfile", str(root), "-untrusted", str(issuers), str(leaf)],
            self.env,
        )

    def ocsp_status(self, leaf: Path, issuer: Path) -> str:
        """What our responder says about `leaf`, through `openssl ocsp` (good/revoked/...)."""
        return self.ocsp(leaf, issuer)[0]

    def ocsp(self, leaf: Path, issuer: Path) -> tuple[str, str]:
        """(status, revocation reason or "") from our responder, through `openssl ocsp`."""
        root, _ = self.trust_files()
        result = run(
            [
                OPENSSL,
                "ocsp",
                "-issuer",
                str(issuer),
                "-cert",
                str(leaf),
                "-url",
                self.ocsp_url,
                "-CAfile",
                str(root),
                "-no_nonce",
            ],
            self.env,
        )
        match = re.search(rf"{re.escape(str(leaf))}: (\w+)", result.output)
        if result.returncode != 0 or match is None or "Response verify OK" not in result.output:
            raise ToolFailed(f"openssl ocsp failed:\n{result.output}")
        reason = re.search(r"Reason: (\w+)", result.output)
        return match.group(1), reason.group(1) if reason else ""

    def wait_ocsp(
        self, leaf: Path, issuer: Path, want: str, seconds: float = 20
    ) -> tuple[str, str]:
        """The responder caches answers a few seconds (docs/ocsp.md): poll until `want`."""
        deadline = time.monotonic() + seconds
        answer = self.ocsp(leaf, issuer)
        while answer[0] != want and time.monotonic() < deadline:
            time.sleep(0.5)
            answer = self.ocsp(leaf, issuer)
        return answer

    def validations(self, fqdn: str) -> list[DomainValidation]:
        """The stored domain validation records of `fqdn`, oldest first."""
        home = CaHome.open(self.home)
        try:
            return DomainValidationStore(home.inventory.engine).history(fqdn)
        finally:
            home.close()

    def caa_checks(self, serial: str) -> list[CaaCheck]:
        """The CAA checks made at issuance of the certificate with this serial (hex)."""
        home = CaHome.open(self.home)
        try:
            return DomainValidationStore(home.inventory.engine).caa_checks(serial=serial)
        finally:
            home.close()

    def renewal_info(self, certificate: x509.Certificate) -> tuple[dict[str, Any], str]:
        """GET renewal-info as an ARI client does (RFC 9773 4.2): (window, Retry-After)."""
        with urllib.request.urlopen(self.directory, timeout=10) as response:
            directory = json.load(response)
        url = f"{directory['renewalInfo'].rstrip('/')}/{ari_cert_id(certificate)}"
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.load(response), response.headers.get("Retry-After", "")

    def open_incident(self, certificate: x509.Certificate, explanation_url: str) -> Run:
        serials = self.workdir / f"incident-{certificate.serial_number:x}.txt"
        serials.write_text(f"{certificate.serial_number:x}\n")
        return self.cli(
            "incident", "open",
            "--title", "Integration test: certificates to replace",
            "--aware-at", datetime.now(UTC).isoformat(timespec="seconds"),
            "--reason", "12",
            "--explanation-url", explanation_url,
            "--serials-file", str(serials),
        ).check()  # fmt: skip

    # --- the clients ------------------------------------------------------------------

    def certbot(self, state: Path, *args: str, binary: str = CERTBOT) -> Run:
        env = dict(self.env, CHALLTESTSRV_MANAGEMENT=f"127.0.0.1:{self.dns.management}")
        return run(
            [
                binary, *args, "--non-interactive",
                "--server", self.directory,
                "--config-dir", str(state / "config"),
                "--work-dir", str(state / "work"),
                "--logs-dir", str(state / "logs"),
            ],
            env,
        )  # fmt: skip

    def certbot_hook(self, action: str) -> str:
        return f"{sys.executable} {HOOK} certbot-{action}"

    def lego(self, state: Path, *args: str, dns01: bool = False) -> Run:
        env = dict(self.env, CHALLTESTSRV_MANAGEMENT=f"127.0.0.1:{self.dns.management}")
        if dns01:
            wrapper = state / "dns-hook.sh"
            if not wrapper.exists():
                state.mkdir(parents=True, exist_ok=True)
                wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} {HOOK} lego "$@"\n')
                wrapper.chmod(0o755)
            env.update(
                EXEC_PATH=str(wrapper),
                EXEC_PROPAGATION_TIMEOUT="10",
                EXEC_POLLING_INTERVAL="1",
                EXEC_SEQUENCE_INTERVAL="1",
            )
        return run([LEGO, "--path", str(state), "--server", self.directory, *args], env)

    def lego_dns_flags(self) -> list[str]:
        return ["--dns", "exec", "--dns.resolvers", self.dns.address, "--dns.disable-cp"]


def make_perspectives(
    mtls: Path, workdir: Path, dns: ChallTestSrv, http_port: int, tls_alpn_port: int
) -> list[Perspective]:
    """The private mTLS PKI and one perspective per PERSPECTIVES entry, each on its own
    loopback address (127.0.0.2, ...: Linux routes all of 127/8 to lo)."""
    addresses = [f"127.0.0.{index + 2}" for index in range(len(PERSPECTIVES))]
    pairs = list(zip(PERSPECTIVES, addresses, strict=True))
    endpoints = [Endpoint(name, (address,)) for (name, _), address in pairs]
    issue_pki(mtls, [*endpoints, Endpoint("primary", server=False)], now=datetime.now(UTC))
    perspectives = []
    for (name, region), address in pairs:
        port = free_port_on(address)
        args = [
            str(CERTKEEPER), "serve", "va-remote", "--name", name, "--region", region,
            "--host", address, "--port", str(port),
            "--cert", str(mtls / f"{name}.pem"), "--key", str(mtls / f"{name}.key"),
            "--client-ca", str(mtls / "ca.pem"),
            "--resolver", dns.address, "--http-port", str(http_port),
            "--tls-alpn-port", str(tls_alpn_port), "--allow-private-addresses",
            "--no-dnssec-check",  # pebble-challtestsrv signs nothing
        ]  # fmt: skip
        log_path = workdir / f"va-remote-{name}.log"
        perspectives.append(Perspective(name, region, address, port, args, log_path))
    return perspectives


def free_port_on(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def load_pem(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def san_names(certificate: x509.Certificate) -> set[str]:
    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(san.get_values_for_type(x509.DNSName))


def issuer_pem_for(ca: AcmeCa, certificate: x509.Certificate) -> Path:
    """The issuing CA certificate that signed `certificate`, as its own PEM file."""
    for path in sorted((ca.home / "certs").glob("tls-*.pem")):
        issuer = load_pem(path)
        if issuer.subject == certificate.issuer:
            return path
    raise AssertionError(f"no issuing CA in the home has subject {certificate.issuer}")


def pem_bytes(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def tools_missing() -> list[str]:
    return [tool for tool in (CERTBOT, LEGO, OPENSSL) if shutil.which(tool) is None]
