"""Where an ACME order's time goes inside the server: each request type handled in one
process without HTTP (JWS check, nonce, database, the endpoint), and the validation and
finalize steps, on SQLite or PostgreSQL. Complements benchmarks/acme.py (whole orders
over HTTP against Pebble) by splitting the server's own cost per request.

    .venv/bin/python benchmarks/acme_requests.py [--count N] [--db sqlite|postgres]

Prints one table: per request type, mean wall and CPU milliseconds and requests/s.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certkeeper.acme.app import AcmeApp
from certkeeper.acme.context import Request
from certkeeper.acme.service import handle
from certkeeper.ca.home import CaHome, InitOptions, create_home
from certkeeper.settings.acme import AcmeSettings
from certkeeper.settings.validation import ValidationSettings
from certkeeper.wiring import build

PASSPHRASE = "benchmark passphrase"
BASE = "http://acme.bench"


def b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Signer:
    """A minimal ES256 account (the tests' client does the same over HTTP)."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        nums = self.key.public_key().public_numbers()
        self.jwk = {
            "crv": "P-256",
            "kty": "EC",
            "x": b64(nums.x.to_bytes(32, "big")),
            "y": b64(nums.y.to_bytes(32, "big")),
        }
        canonical = json.dumps(self.jwk, sort_keys=True, separators=(",", ":"))
        self.thumbprint = b64(hashlib.sha256(canonical.encode()).digest())
        self.kid: str | None = None

    def body(self, nonce: str, url: str, payload: Any | None) -> bytes:
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        header: dict[str, Any] = {"alg": "ES256", "nonce": nonce, "url": url}
        if self.kid is None:
            header["jwk"] = self.jwk
        else:
            header["kid"] = self.kid
        protected = b64(json.dumps(header).encode())
        raw = b"" if payload is None else json.dumps(payload).encode()
        data = f"{protected}.{b64(raw)}".encode()
        r, s = decode_dss_signature(self.key.sign(data, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return json.dumps(
            {"protected": protected, "payload": b64(raw), "signature": b64(signature)}
        ).encode()


class ChallengeWeb:
    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}
        tokens = self.tokens

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = tokens.get(self.path.rsplit("/", 1)[-1], "").encode()
                self.send_response(200 if body else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@dataclasses.dataclass
class Timing:
    wall: float = 0.0
    cpu: float = 0.0
    count: int = 0


@contextlib.contextmanager
def database(kind: str, workdir: Path) -> Iterator[str | None]:
    if kind == "sqlite":
        yield None
        return
    from pgserver import PostgresServer

    with PostgresServer() as server:
        yield server.create_database("acmereq")


def validated(store: Any, authz_id: int) -> Callable[[], bool]:
    def check() -> bool:
        authz = store.authorization(authz_id)
        return authz is not None and authz.status != "pending"

    return check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40, help="orders")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    os.environ["CERTKEEPER_PASSPHRASE"] = PASSPHRASE
    from dnsserver import ChallTestSrv

    workdir = Path(tempfile.mkdtemp(prefix="acme-req-"))
    with ChallTestSrv.start() as dns, database(args.db, workdir) as url:
        web = ChallengeWeb()
        create_home(workdir / "home", InitOptions(database_url=url), PASSPHRASE.encode())
        opened = CaHome.open(workdir / "home")
        home = CaHome(
            dataclasses.replace(
                opened.config,
                validation=ValidationSettings(
                    http_port=web.port,
                    resolver=dns.address,
                    caa_identities=("ca.bench.example",),
                    mpic_required=False,
                    private_addresses=True,
                ),
                acme=AcmeSettings(
                    base_url=BASE,
                    accounts_per_ip_per_3_hours=0,
                    orders_per_account_per_hour=0,
                    certificates_per_domain_per_week=0,
                    failed_validations_per_account_name_per_hour=0,
                ),
            )
        )
        app = AcmeApp(build(home), warm=False)
        acme = app.acme
        timings: dict[str, Timing] = {}

        def call(label: str, method: str, url: str, body: bytes = b"") -> Any:
            request = Request(
                method,
                url[len(BASE) + len("/acme") :],
                {"content-type": "application/jose+json"},
                body,
                BASE,
                "127.0.0.1",
            )
            wall, cpu = time.perf_counter(), time.process_time()
            response = handle(acme, request)
            t = timings.setdefault(label, Timing())
            t.wall += time.perf_counter() - wall
            t.cpu += time.process_time() - cpu
            t.count += 1
            if response.status >= 400:
                raise SystemExit(f"{label}: {response.status} {response.body[:300]!r}")
            return response

        def signed(label: str, signer: Signer, url: str, payload: Any | None) -> Any:
            return call(label, "POST", url, signer.body(acme.nonces.issue(), url, payload))

        signer = Signer()
        directory = json.loads(call("directory", "GET", f"{BASE}/acme/directory").body)
        created = signed(
            "newAccount", signer, directory["newAccount"], {"termsOfServiceAgreed": True}
        )
        signer.kid = dict(created.headers)["Location"]
        # Warm up outside the measurement (a running server does this at start).
        warm_start = time.perf_counter()
        app._warm()
        warm = time.perf_counter() - warm_start

        def wait(check: Callable[[], bool]) -> None:
            while not check():
                time.sleep(0.002)

        for i in range(args.count):
            name = f"r{i}.bench.example.com"
            call("newNonce", "HEAD", directory["newNonce"])
            order = signed(
                "newOrder",
                signer,
                directory["newOrder"],
                {"identifiers": [{"type": "dns", "value": name}]},
            )
            doc = json.loads(order.body)
            authz_url = doc["authorizations"][0]
            authz = json.loads(signed("authz (POST-as-GET)", signer, authz_url, None).body)
            chall = next(c for c in authz["challenges"] if c["type"] == "http-01")
            web.tokens[chall["token"]] = f"{chall['token']}.{signer.thumbprint}"
            started = time.perf_counter()
            signed("challenge POST", signer, chall["url"], {})
            authz_id = int(authz_url.rsplit("/", 1)[1])
            wait(validated(acme.store, authz_id))
            t = timings.setdefault("validation (worker thread, wall)", Timing())
            t.wall += time.perf_counter() - started
            t.count += 1
            signed("order (POST-as-GET)", signer, dict(order.headers)["Location"], None)
            key = ec.generate_private_key(ec.SECP256R1())
            csr = (
                x509.CertificateSigningRequestBuilder()
                .subject_name(x509.Name([]))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), False)
                .sign(key, hashes.SHA256())
                .public_bytes(serialization.Encoding.DER)
            )
            final = signed("finalize", signer, doc["finalize"], {"csr": b64(csr)})
            cert_url = json.loads(final.body)["certificate"]
            signed("certificate (POST-as-GET)", signer, cert_url, None)

        print(f"\nACME server cost per request, {args.count} orders, {args.db}, one process")
        print(f"(warm-up at start: {warm * 1000:.0f} ms, not counted)\n")
        print(f"{'request':<36} {'count':>6} {'wall ms':>9} {'cpu ms':>8} {'req/s':>8}")
        print("-" * 71)
        for label, t in timings.items():
            mean = t.wall / t.count * 1000
            cpu = t.cpu / t.count * 1000 if t.cpu else float("nan")
            print(f"{label:<36} {t.count:>6} {mean:>9.1f} {cpu:>8.1f} {1000 / mean:>8.1f}")
        app.close()


if __name__ == "__main__":
    main()
