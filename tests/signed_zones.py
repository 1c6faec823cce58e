"""A DNSSEC-signed test hierarchy behind a real validating resolver.

Zones are signed by `ldns-signzone` (ldnsutils), served by `knotd` and resolved through
Debian's `unbound`, which validates back to a test root: the root zone, `com`,
`example.com` and `zones.example.com` are signed (algorithm 13, NSEC3), and the test
root's DS is unbound's only trust anchor, as the IANA root's is in production. Children
of `zones.example.com`, one per case:

    ok13      algorithm 13, NSEC             signed correctly
    ok8       algorithm 8 (RSA/SHA-256), NSEC3  signed correctly
    expired   algorithm 13, every RRSIG expired in 2020
    wrongds   signed, but the parent's DS names another key
    nosig     signed, but the RRSIGs over the data at STRIPPED owners are removed
    island    signed, but no DS in the parent: insecure, like an unsigned zone
    unsigned  no DS in the parent, not signed: an insecure delegation

Every child holds `@`, `www` and `caa` A records (127.0.0.1), a CAA RRset at `caa`
(issue CA_IDENTITY), a CNAME `alias` -> `www.expired.zones.example.com` (a bogus target)
and the dns-01 TXT record for DNS01_KEY_AUTHORIZATION at `_acme-challenge.www`.

    with SignedZones.start() as zones:
        settings = replace(settings, resolver=zones.resolver)
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from dnsserver import KNOTD, _Process, _wait_udp_dns, free_port, stop_process

UNBOUND = "/usr/sbin/unbound"
LDNS_SIGNZONE = "/usr/bin/ldns-signzone"
LDNS_KEYGEN = "/usr/bin/ldns-keygen"

PARENT = "zones.example.com"
CA_IDENTITY = "ca.certkeeper.example"
DNS01_TOKEN = "dnssectoken"
DNS01_KEY_AUTHORIZATION = f"{DNS01_TOKEN}.thumbprint"
BOGUS_TARGET = f"www.expired.{PARENT}"

# child label -> (algorithm, NSEC3?)
CHILDREN: dict[str, tuple[str, bool]] = {
    "ok13": ("ECDSAP256SHA256", False),
    "ok8": ("RSASHA256", True),
    "expired": ("ECDSAP256SHA256", False),
    "wrongds": ("ECDSAP256SHA256", True),
    "nosig": ("ECDSAP256SHA256", False),
    "island": ("ECDSAP256SHA256", True),
}
UNSIGNED = "unsigned"
STRIPPED = ("www", "caa", "_acme-challenge.www")  # owners whose RRSIGs `nosig` loses


def available() -> bool:
    return all(Path(p).is_file() for p in (UNBOUND, LDNS_SIGNZONE, LDNS_KEYGEN, KNOTD))


def _digest(key_authorization: str) -> str:
    raw = hashlib.sha256(key_authorization.encode()).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _soa(origin: str) -> str:
    head = f"$ORIGIN {origin}.\n" if origin else "$ORIGIN .\n"
    return head + "$TTL 60\n@ SOA ns hostmaster 1 60 60 3600 60\n@ NS ns\nns A 127.0.0.1\n"


def _child_records() -> str:
    return (
        "@ A 127.0.0.1\nwww A 127.0.0.1\ncaa A 127.0.0.1\n"
        f'caa CAA 0 issue "{CA_IDENTITY}"\n'
        f"alias CNAME {BOGUS_TARGET}.\n"
        f'_acme-challenge.www TXT "{_digest(DNS01_KEY_AUTHORIZATION)}"\n'
    )


def _keygen(workdir: Path, zone: str, algorithm: str) -> str:
    """A key signing key for `zone`; returns its base name (without .key/.private)."""
    bits = ["-b", "2048"] if algorithm.startswith("RSA") else []
    out = subprocess.run(
        [LDNS_KEYGEN, "-a", algorithm, *bits, "-k", zone],
        cwd=workdir,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def _sign(
    workdir: Path, zone: str, text: str, key: str, *, nsec3: bool, dates: tuple[str, str] | None
) -> Path:
    source = workdir / f"{zone or 'root'}.zone"
    source.write_text(text)
    signed = workdir / f"{zone or 'root'}.signed"
    args = [LDNS_SIGNZONE, "-f", str(signed), "-o", zone or "."]
    if nsec3:
        args += ["-n", "-t", "0"]  # RFC 9276: no extra iterations, no salt
    if dates is not None:
        args += ["-i", dates[0], "-e", dates[1]]
    subprocess.run([*args, str(source), key], cwd=workdir, check=True, capture_output=True)
    return signed


def _delegation(label: str, ds: str) -> str:
    """NS with glue, and the DS unless empty (an insecure delegation)."""
    return f"{label} NS ns.{label}\nns.{label} A 127.0.0.1\n" + (f"{ds}\n" if ds else "")


def _data_signature(line: str, owner: str) -> bool:
    """An RRSIG over data at `owner` (its NSEC signatures stay: denial still validates)."""
    fields = line.split()
    return len(fields) > 4 and fields[0] == owner and fields[3] == "RRSIG" and fields[4] != "NSEC"


def _ds(workdir: Path, key: str) -> str:
    return (workdir / f"{key}.ds").read_text().strip()


class SignedZones(_Process):
    """knotd (`proc`) serving every zone, and unbound (`port`) validating in front."""

    def __init__(self, workdir: Path, knot: subprocess.Popen[bytes]) -> None:
        super().__init__(knot, 0)
        self.workdir = workdir
        self.unbound: subprocess.Popen[bytes] | None = None
        self.knot_port = 0

    @property
    def resolver(self) -> str:
        """The [validation] resolver setting: the validating unbound."""
        return self.address

    @property
    def authoritative(self) -> str:
        """knotd itself: answers with signatures but validates nothing."""
        return f"127.0.0.1:{self.knot_port}"

    @staticmethod
    def name(child: str, label: str = "www") -> str:
        return f"{label}.{child}.{PARENT}" if label else f"{child}.{PARENT}"

    @classmethod
    def start(cls) -> SignedZones:
        workdir = Path(tempfile.mkdtemp(prefix="signed-zones-"))
        try:
            zones, anchor = cls._build(workdir)
            knot_port = free_port()
            conf = workdir / "knot.conf"
            conf.write_text(
                f"server:\n    listen: 127.0.0.1@{knot_port}\n    rundir: {workdir}\n"
                f"database:\n    storage: {workdir}\n"
                "zone:\n"
                + "".join(
                    f"  - domain: {z or '.'}\n    file: {path}\n" for z, path in zones.items()
                )
                + "log:\n  - target: stderr\n    any: error\n"
            )
            knot = subprocess.Popen(
                [KNOTD, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        server = cls(workdir, knot)
        try:
            _wait_udp_dns(knot_port, time.monotonic() + 10)
            server.knot_port = knot_port
            server._start_unbound(anchor, knot_port, list(zones))
        except BaseException:
            server.stop()
            raise
        return server

    @staticmethod
    def _build(workdir: Path) -> tuple[dict[str, Path], str]:
        """Sign every zone bottom up (a parent holds its children's DS records), up to the
        test root, whose DS is the trust anchor."""
        zones: dict[str, Path] = {}
        delegations: list[str] = []
        for child, (algorithm, nsec3) in CHILDREN.items():
            zone = f"{child}.{PARENT}"
            key = _keygen(workdir, zone, algorithm)
            text = _soa(zone) + _child_records()
            dates = ("20200101000000", "20200201000000") if child == "expired" else None
            signed = _sign(workdir, zone, text, key, nsec3=nsec3, dates=dates)
            if child == "nosig":
                lines = signed.read_text().splitlines()
                kept = [
                    ln
                    for ln in lines
                    if not any(_data_signature(ln, f"{o}.{zone}.") for o in STRIPPED)
                ]
                signed.write_text("\n".join(kept) + "\n")
            ds_key = _keygen(workdir, zone, algorithm) if child == "wrongds" else key
            zones[zone] = signed
            ds = "" if child == "island" else _ds(workdir, ds_key)
            delegations.append(_delegation(child, ds))
        unsigned = f"{UNSIGNED}.{PARENT}"
        path = workdir / f"{unsigned}.zone"
        path.write_text(_soa(unsigned) + _child_records())
        zones[unsigned] = path
        delegations.append(_delegation(UNSIGNED, ""))
        # zones.example.com, example.com, com, then the root: each delegates to the one below
        chain = PARENT.split(".")
        body = "".join(delegations)
        for i in range(len(chain) + 1):
            zone = ".".join(chain[i:])
            key = _keygen(workdir, zone or ".", "ECDSAP256SHA256")
            zones[zone] = _sign(workdir, zone, _soa(zone) + body, key, nsec3=True, dates=None)
            if zone:
                body = _delegation(chain[i], _ds(workdir, key))
            else:
                anchor = _ds(workdir, key)
        return zones, anchor

    def _start_unbound(self, anchor: str, knot_port: int, zones: list[str]) -> None:
        self.port = free_port()
        (self.workdir / "anchor.ds").write_text(anchor + "\n")
        stubs = "".join(
            f"stub-zone:\n    name: {z}.\n    stub-addr: 127.0.0.1@{knot_port}\n".replace("..", ".")
            for z in zones
        )
        conf = self.workdir / "unbound.conf"
        conf.write_text(
            "server:\n"
            f"    interface: 127.0.0.1\n    port: {self.port}\n    do-ip6: no\n"
            f'    username: ""\n    chroot: ""\n    directory: "{self.workdir}"\n'
            f'    pidfile: "{self.workdir}/unbound.pid"\n    use-syslog: no\n'
            '    logfile: ""\n    verbosity: 0\n    do-not-query-localhost: no\n'
            '    module-config: "validator iterator"\n'
            f'    trust-anchor-file: "{self.workdir}/anchor.ds"\n'
            "    ede: yes\n    val-log-level: 2\n    cache-max-ttl: 0\n"
            "    cache-max-negative-ttl: 0\n    num-threads: 1\n"
            "remote-control:\n    control-enable: no\n" + stubs
        )
        self.unbound = subprocess.Popen(
            [UNBOUND, "-d", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_udp_dns(self.port, time.monotonic() + 10)

    def stop(self) -> None:
        if self.unbound is not None:
            stop_process(self.unbound)
        super().stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
