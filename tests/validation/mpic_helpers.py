"""Remote perspectives as separate processes, each at its own network location.

With root and `ip netns`, every perspective runs in its own network namespace, joined to
the host by a veth pair (host 10.N.K.1, perspective 10.N.K.2): its DNS queries and
challenge connections leave through its own interface. Elsewhere each perspective gets
its own loopback address (127.0.0.K; Linux routes all of 127/8 to lo).
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from certkeeper.settings.validation import PerspectiveConfig, ValidationSettings
from certkeeper.validation.pki import Endpoint, issue_pki

CERTKEEPER = str(Path(sys.executable).with_name("certkeeper"))
NETNS_ENV = "CERTKEEPER_TEST_NETNS"  # "0" forces loopback addresses


def netns_available() -> bool:
    if os.environ.get(NETNS_ENV) == "0" or os.geteuid() != 0 or not shutil.which("ip"):
        return False
    name = f"ckprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True).returncode == 0
    if made:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return made


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def wait_listening(host: str, port: int, proc: subprocess.Popen[bytes], netns: str | None) -> None:
    """Until the perspective accepts TCP connections (checked from its own namespace)."""
    deadline = time.monotonic() + 90  # a loaded CI machine starts slowly
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError(f"perspective exited with {proc.returncode}: {out[-2000:]}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"perspective on {host}:{port} did not start")


@dataclass
class Site:
    """Where one perspective runs: its listening address, and how it reaches the host."""

    index: int
    address: str  # the perspective listens here; the primary connects here
    host_address: str  # the test DNS and HTTP servers, as seen from the perspective
    netns: str | None = None

    def command(self, args: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *args] if self.netns else args


_NETWORKS = itertools.count()
_NETNS_LOCK = Path(tempfile.gettempdir()) / "certkeeper-test-netns.lock"
_OURS = re.compile(r"^ck(\d+)x\d+s\d+")


@contextlib.contextmanager
def _netns_lock() -> Iterator[None]:
    """Test processes (xdist workers, other suites) allocate subnets one at a time."""
    with _NETNS_LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_stale_namespaces() -> None:
    """Namespaces left by a test process that was killed (its pid is gone)."""
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for line in listing.splitlines():
        match = _OURS.match(line)
        if match and not Path(f"/proc/{match.group(1)}").exists():
            subprocess.run(["ip", "netns", "del", line.split()[0]], capture_output=True)


def _free_subnet() -> int:
    used = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True)
    taken = set(re.findall(r"inet 10\.(\d+)\.", used.stdout))
    candidates = [n for n in range(100, 250) if str(n) not in taken]
    if not candidates:
        raise RuntimeError("no free 10.N.0.0/16 for test namespaces")
    return candidates[secrets.randbelow(len(candidates))]


@dataclass
class Network:
    """Sites for perspectives; tears down the namespaces it created."""

    use_netns: bool
    sites: list[Site] = field(default_factory=list)
    _subnet: int | None = None
    _tag: str = ""

    def __post_init__(self) -> None:
        self._tag = f"{os.getpid()}x{next(_NETWORKS) % 100}"

    @property
    def shared_address(self) -> str:
        """An address of the host every perspective and the primary can reach: where the
        test servers listen and what the test DNS answers for challenge names."""
        return self.sites[0].host_address if self.use_netns else "127.0.0.1"

    def add_site(self) -> Site:
        k = len(self.sites)
        if not self.use_netns:
            site = Site(k, f"127.0.0.{k + 2}", "127.0.0.1")
        else:
            with _netns_lock():
                if self._subnet is None:
                    _remove_stale_namespaces()
                    self._subnet = _free_subnet()
                site = self._make_site(k, self._subnet)
        self.sites.append(site)
        return site

    def _make_site(self, k: int, subnet: int) -> Site:
        ns = f"ck{self._tag}s{k}"
        short = f"ck{os.getpid() % 100000}{self._tag.split('x')[1]}"
        host_if, ns_if = f"{short}h{k}", f"{short}n{k}"
        net = f"10.{subnet}.{k}"
        for cmd in (
            ["ip", "netns", "add", ns],
            ["ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if, "netns", ns],
            ["ip", "addr", "add", f"{net}.1/30", "dev", host_if],
            ["ip", "link", "set", host_if, "up"],
            ["ip", "-n", ns, "addr", "add", f"{net}.2/30", "dev", ns_if],
            ["ip", "-n", ns, "link", "set", ns_if, "up"],
            ["ip", "-n", ns, "link", "set", "lo", "up"],
            ["ip", "-n", ns, "route", "add", "default", "via", f"{net}.1"],
        ):
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                subprocess.run(["ip", "netns", "del", ns], capture_output=True)
                raise RuntimeError(f"{' '.join(cmd)}: {done.stderr.strip()}")
        return Site(k, f"{net}.2", f"{net}.1", ns)

    def close(self) -> None:
        for site in self.sites:
            if site.netns:
                subprocess.run(["ip", "netns", "del", site.netns], capture_output=True)
        self.sites.clear()


@contextlib.contextmanager
def open_network() -> Iterator[Network]:
    """A Network of namespaces when the host allows them (else loopback), torn down after."""
    net = Network(use_netns=netns_available())
    try:
        yield net
    finally:
        net.close()


@dataclass
class Pki:
    """The private mTLS CA with the primary's and every perspective's certificate."""

    root: Path

    @property
    def ca(self) -> Path:
        return self.root / "ca.pem"

    def cert(self, name: str) -> Path:
        return self.root / f"{name}.pem"

    def key(self, name: str) -> Path:
        return self.root / f"{name}.key"


def make_pki(root: Path, perspectives: dict[str, list[str]], primary: str = "primary") -> Pki:
    endpoints = [Endpoint(primary, (), server=False)]
    endpoints += [Endpoint(name, tuple(hosts)) for name, hosts in perspectives.items()]
    issue_pki(root, endpoints, now=datetime.now(UTC))
    return Pki(root)


@dataclass
class RemoteProcess:
    name: str
    region: str
    site: Site
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"https://{self.site.address}:{self.port}"

    def config(self) -> PerspectiveConfig:
        return PerspectiveConfig(name=self.name, region=self.region, url=self.url)

    def wait_ready(self) -> None:
        try:
            wait_listening(self.site.address, self.port, self.proc, self.site.netns)
        except Exception:
            self.stop()
            raise

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def stop_all(remotes: list[RemoteProcess]) -> None:
    """Signal every process first, then wait: shutdowns overlap instead of queueing."""
    for remote in remotes:
        if remote.proc.poll() is None:
            remote.proc.terminate()
    for remote in remotes:
        remote.stop()


def start_remote(
    name: str,
    region: str,
    site: Site,
    pki: Pki,
    *,
    resolver: str = "",
    http_port: int = 80,
    timeout: float = 5.0,
    client_ca: Path | None = None,
    wait: bool = True,
    server: str = "granian",
    port: int | None = None,
) -> RemoteProcess:
    """`certkeeper serve va-remote` in its own process (and namespace, when available).

    With wait=False the caller starts several and calls `wait_ready` on each."""
    if port is None:
        port = free_port("127.0.0.1") if site.netns else free_port(site.address)
    args = [
        CERTKEEPER,
        "serve",
        "va-remote",
        "--name",
        name,
        "--region",
        region,
        "--host",
        site.address,
        "--port",
        str(port),
        "--cert",
        str(pki.cert(name)),
        "--key",
        str(pki.key(name)),
        "--client-ca",
        str(client_ca or pki.ca),
        "--http-port",
        str(http_port),
        "--timeout",
        str(timeout),
        "--allow-private-addresses",
        "--no-dnssec-check",  # the test DNS servers sign nothing
        "--server",
        server,
    ]
    if resolver:
        args += ["--resolver", resolver]
    proc = subprocess.Popen(
        site.command(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ
    )
    remote = RemoteProcess(name, region, site, port, proc)
    if wait:
        remote.wait_ready()
    return remote


def primary_settings(
    pki: Pki,
    remotes: Sequence[RemoteProcess | PerspectiveConfig],
    *,
    resolver: str = "",
    http_port: int = 80,
    timeout: float = 5.0,
    caa_identities: tuple[str, ...] = ("ca.example",),
) -> ValidationSettings:
    configs = [r.config() if isinstance(r, RemoteProcess) else r for r in remotes]
    return ValidationSettings(
        http_port=http_port,
        resolver=resolver,
        timeout_seconds=timeout,
        caa_identities=caa_identities,
        private_addresses=True,
        perspectives=tuple(configs),
        mpic_client_cert=pki.cert("primary"),
        mpic_client_key=pki.key("primary"),
        mpic_ca_file=pki.ca,
        mpic_timeout_seconds=timeout,
    )


class ChallengeHttpServer:
    """A tiny http-01 responder: /.well-known/acme-challenge/<token> -> key authorization.

    `lie=True` answers every token with a wrong key authorization (a disagreeing path)."""

    def __init__(self, host: str, *, lie: bool = False) -> None:
        self.answers: dict[str, str] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                prefix = "/.well-known/acme-challenge/"
                token = self.path[len(prefix) :] if self.path.startswith(prefix) else None
                body = outer.answers.get(token or "")
                if body is not None and lie:
                    body = body.split(".")[0] + ".not-the-right-thumbprint"
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # five perspectives at once overflow the default 5

        self.server = Server((host, 0), Handler)
        self.server.daemon_threads = True
        self.port: int = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def silent_listener(host: str) -> Iterator[int]:
    """Accepts TCP connections and never answers: a perspective that hangs."""
    sock = socket.socket()
    sock.bind((host, 0))
    sock.listen(16)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


class DnsRelay:
    """Forwards DNS (UDP and TCP) from an address the namespaces reach to a server on
    127.0.0.1, which a perspective in its own namespace cannot reach directly. It only
    moves bytes: answers still come from the test's real DNS server."""

    def __init__(self, listen: str, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((listen, 0))
        self.port: int = self.tcp.getsockname()[1]
        self.udp.bind((listen, self.port))
        self.tcp.listen(16)
        self.address = f"{listen}:{self.port}"
        self._closed = False
        for loop in (self._udp_loop, self._tcp_loop):
            threading.Thread(target=loop, daemon=True).start()

    def _udp_loop(self) -> None:
        while not self._closed:
            try:
                data, client = self.udp.recvfrom(4096)
            except OSError:
                return
            threading.Thread(target=self._udp_one, args=(data, client), daemon=True).start()

    def _udp_one(self, data: bytes, client: tuple[str, int]) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            out.settimeout(5)
            try:
                out.sendto(data, self.target)
                answer, _ = out.recvfrom(65535)
                self.udp.sendto(answer, client)
            except OSError:
                return

    def _tcp_loop(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            threading.Thread(target=self._tcp_one, args=(conn,), daemon=True).start()

    def _tcp_one(self, conn: socket.socket) -> None:
        with conn, socket.create_connection(self.target, timeout=5) as out:
            conn.settimeout(5)
            try:
                while True:
                    head = conn.recv(2)
                    if len(head) < 2:
                        return
                    size = int.from_bytes(head, "big")
                    query = b""
                    while len(query) < size:
                        chunk = conn.recv(size - len(query))
                        if not chunk:
                            return
                        query += chunk
                    out.sendall(head + query)
                    head = out.recv(2)
                    size = int.from_bytes(head, "big")
                    answer = b""
                    while len(answer) < size:
                        chunk = out.recv(size - len(answer))
                        if not chunk:
                            return
                        answer += chunk
                    conn.sendall(head + answer)
            except OSError:
                return

    def close(self) -> None:
        self._closed = True
        self.udp.close()
        self.tcp.close()
