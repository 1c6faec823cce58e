"""Real DNS servers for tests: Debian's pebble-challtestsrv and Knot DNS.

`ChallTestSrv` runs `pebble-challtestsrv` with only its DNS server on a free loopback port,
driven through its HTTP management API. It answers A/AAAA queries for any name with a
default address (127.0.0.1 / ::1 unless changed), so every test name "resolves" to the
loopback where the test's own HTTP/TLS servers listen.

    with ChallTestSrv.start() as dns:
        dns.set_txt("_acme-challenge.www.example.com", "value")
        dns.add_caa("example.com", [("issue", "ca.example")])
        dns.set_cname("alias.example.com", "target.example.net")
        dns.add_a("www.example.com", ["127.0.0.1"])
        dns.set_servfail("broken.example.com")
        dns.clear("www.example.com")       # TXT, CAA, CNAME, A, AAAA and SERVFAIL of a name
        settings_resolver = dns.address     # "127.0.0.1:PORT", for [validation] resolver

challtestsrv cannot set CAA flags. `KnotZone` serves a fixed zone text with `knotd`, for
records it cannot express (a critical flag on an unknown tag):

    with KnotZone.start("example.org", 'example.org. 60 CAA 128 tbs "x"') as dns: ...
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

CHALLTESTSRV = "/usr/bin/pebble-challtestsrv"
KNOTD = "/usr/sbin/knotd"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free for both TCP and UDP on 127.0.0.1 (DNS listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port for a DNS server")


def _fqdn(name: str) -> str:
    return name if name.endswith(".") else name + "."


def _wait_udp_dns(port: int, deadline: float) -> None:
    """Wait until something answers a DNS query on 127.0.0.1:port."""
    query = bytes.fromhex("abcd01000001000000000000") + b"\x04test\x00\x00\x01\x00\x01"
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            try:
                s.sendto(query, ("127.0.0.1", port))
                s.recvfrom(512)
                return
            except OSError:
                time.sleep(0.05)
    raise RuntimeError(f"DNS server on port {port} did not start")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server we started, killing it if it does not stop within 5 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class _Process:
    def __init__(self, proc: subprocess.Popen[bytes], port: int) -> None:
        self.proc = proc
        self.port = port

    @property
    def address(self) -> str:
        """The resolver setting for this server: "127.0.0.1:PORT"."""
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        stop_process(self.proc)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ChallTestSrv(_Process):
    """pebble-challtestsrv serving DNS on a free port, changed through its management API."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, management: int) -> None:
        super().__init__(proc, port)
        self.management = management

    @classmethod
    def available(cls) -> bool:
        return Path(CHALLTESTSRV).is_file()

    @classmethod
    def start(cls) -> ChallTestSrv:
        port, management = free_port(), free_port()
        proc = subprocess.Popen(
            [
                CHALLTESTSRV,
                "-dns01",
                f"127.0.0.1:{port}",
                "-management",
                f"127.0.0.1:{management}",
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        server = cls(proc, port, management)
        deadline = time.monotonic() + 10
        try:
            _wait_udp_dns(port, deadline)
            while time.monotonic() < deadline:  # the management API starts last
                try:
                    server._post("/clear-txt", {"host": "ready.invalid."})
                    break
                except OSError:
                    time.sleep(0.05)
        except BaseException:
            server.stop()
            raise
        return server

    def _post(self, path: str, body: dict[str, object]) -> None:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.management}{path}",
            data=json.dumps(body).encode(),
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            if response.status != 200:
                raise RuntimeError(f"challtestsrv {path}: HTTP {response.status}")

    def set_txt(self, name: str, value: str) -> None:
        """Add a TXT value at `name` (challtestsrv keeps several values per name)."""
        self._post("/set-txt", {"host": _fqdn(name), "value": value})

    def clear_txt(self, name: str) -> None:
        self._post("/clear-txt", {"host": _fqdn(name)})

    def add_caa(self, name: str, properties: Iterable[tuple[str, str]]) -> None:
        """Set the CAA RRset of `name` to (tag, value) properties, all with flags 0."""
        policies = [{"tag": tag, "value": value} for tag, value in properties]
        self._post("/add-caa", {"host": _fqdn(name), "policies": policies})

    def clear_caa(self, name: str) -> None:
        self._post("/clear-caa", {"host": _fqdn(name)})

    def set_cname(self, name: str, target: str) -> None:
        self._post("/set-cname", {"host": _fqdn(name), "target": _fqdn(target)})

    def clear_cname(self, name: str) -> None:
        self._post("/clear-cname", {"host": _fqdn(name)})

    def add_a(self, name: str, addresses: Sequence[str]) -> None:
        self._post("/add-a", {"host": _fqdn(name), "addresses": list(addresses)})

    def clear_a(self, name: str) -> None:
        self._post("/clear-a", {"host": _fqdn(name)})

    def add_aaaa(self, name: str, addresses: Sequence[str]) -> None:
        self._post("/add-aaaa", {"host": _fqdn(name), "addresses": list(addresses)})

    def clear_aaaa(self, name: str) -> None:
        self._post("/clear-aaaa", {"host": _fqdn(name)})

    def set_default_ipv6(self, address: str) -> None:
        """Default AAAA answer; "" answers AAAA queries with no records."""
        self._post("/set-default-ipv6", {"ip": address})

    def set_servfail(self, name: str) -> None:
        """Every query for `name` answers SERVFAIL."""
        self._post("/set-servfail", {"host": _fqdn(name)})

    def clear_servfail(self, name: str) -> None:
        self._post("/clear-servfail", {"host": _fqdn(name)})

    def clear(self, name: str) -> None:
        """Remove every record this fixture can set for `name`."""
        for path in (
            "/clear-txt",
            "/clear-caa",
            "/clear-cname",
            "/clear-a",
            "/clear-aaaa",
            "/clear-servfail",
        ):
            with contextlib.suppress(urllib.error.HTTPError):
                self._post(path, {"host": _fqdn(name)})


class KnotZone(_Process):
    """knotd serving one fixed zone (records challtestsrv cannot express)."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, workdir: Path) -> None:
        super().__init__(proc, port)
        self.workdir = workdir

    @classmethod
    def available(cls) -> bool:
        return Path(KNOTD).is_file()

    @classmethod
    def start(cls, origin: str, records: str) -> KnotZone:
        """Serve zone `origin` with `records` (zone-file lines, absolute or relative names)."""
        workdir = Path(tempfile.mkdtemp(prefix="knot-"))
        origin = _fqdn(origin)
        zone = workdir / "zone.txt"
        zone.write_text(
            f"$ORIGIN {origin}\n$TTL 60\n@ SOA ns.{origin} hostmaster.{origin} 1 60 60 60 60\n"
            f"@ NS ns.{origin}\nns A 127.0.0.1\n{records}\n"
        )
        port = free_port()
        conf = workdir / "knot.conf"
        conf.write_text(
            f"server:\n    listen: 127.0.0.1@{port}\n    rundir: {workdir}\n"
            f"database:\n    storage: {workdir}\n"
            f"zone:\n  - domain: {origin}\n    file: {zone}\n"
            "log:\n  - target: stderr\n    any: error\n"
        )
        proc = subprocess.Popen(
            [KNOTD, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        server = cls(proc, port, workdir)
        try:
            _wait_udp_dns(port, time.monotonic() + 10)
        except BaseException:
            server.stop()
            raise
        return server

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
