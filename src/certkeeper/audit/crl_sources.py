"""Where the CRL monitor gets its bytes and its notAfter dates.

CRLs come from files or http(s) URLs; shard sets from a CCADB "JSON Array of
Partitioned CRLs" (a URL or a file), or from a local publish directory laid out as
`crl_files.py` writes it (`<issuer>.json` next to `<issuer>/<shard>.crl`), where each
listed URL is read from the file it is published from. notAfter dates come from the
inventory of a CA home or from a directory of certificates: without one, the monitor
cannot tell an early removal from a late one and says so.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cryptography import x509

from certkeeper.certificate_filter import CertificateFilter
from certkeeper.errors import InputError

if TYPE_CHECKING:
    from certkeeper.store.inventory import Inventory

MAX_CRL_BYTES = 1 << 30  # a shard over 1 GiB is refused rather than read into memory
FETCH_TIMEOUT = 60.0
USER_AGENT = "certkeeper-crl-monitor"


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def read_location(location: str, *, limit: int = MAX_CRL_BYTES) -> bytes:
    """The bytes at a path or http(s) URL; any failure is an InputError naming it."""
    if is_url(location):
        request = urllib.request.Request(location, headers={"User-Agent": USER_AGENT})
        try:
            # A fresh opener per fetch: it reads the proxy settings (http_proxy, no_proxy)
            # in force now, not those of whenever the process first fetched something.
            opener = urllib.request.build_opener()
            with opener.open(request, timeout=FETCH_TIMEOUT) as response:
                data: bytes = response.read(limit + 1)
        except urllib.error.HTTPError as exc:
            raise InputError(f"{location}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise InputError(f"{location}: cannot fetch: {reason}") from None
    else:
        path = Path(location)
        try:
            with path.open("rb") as fh:
                data = fh.read(limit + 1)
        except OSError as exc:
            raise InputError(f"{location}: cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise InputError(f"{location}: larger than {limit} bytes; refusing to read it")
    return data


@dataclass(frozen=True)
class ShardSet:
    """One CCADB JSON array: the URLs it lists, and where to read each from."""

    name: str  # where the array came from
    listed: tuple[str, ...]
    where: dict[str, str]  # url -> path or url to read


def parse_shard_list(data: bytes, source: str) -> list[str]:
    """A CCADB JSON array of CRL URLs; anything else is an InputError."""
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{source}: not JSON: {exc}") from None
    if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
        raise InputError(f"{source}: expected a JSON array of CRL URLs")
    if not value:
        raise InputError(f"{source}: the JSON array lists no CRL")
    for url in value:
        if not is_url(url):
            raise InputError(f"{source}: {url!r} is not an http(s) URL")
    return list(value)


def shard_sets(source: str) -> list[ShardSet]:
    """Resolve a watch SOURCE into its shard sets (see the module text)."""
    if is_url(source):
        listed = parse_shard_list(read_location(source, limit=16 << 20), source)
        return [ShardSet(source, tuple(listed), {u: u for u in listed})]
    path = Path(source)
    if path.is_file():
        listed = parse_shard_list(read_location(source, limit=16 << 20), source)
        return [ShardSet(source, tuple(listed), {u: u for u in listed})]
    if path.is_dir():
        arrays = sorted(path.glob("*.json"))
        if arrays:
            return [_local_set(a) for a in arrays]
        sibling = path.parent / f"{path.name}.json"
        if sibling.is_file():
            return [_local_set(sibling)]
        raise InputError(
            f"{source}: no CCADB JSON array here (<issuer>.json) and no {sibling.name} beside it"
        )
    raise InputError(f"{source}: no such file, directory or http(s) URL")


def _local_set(array: Path) -> ShardSet:
    """A published issuer: each URL is read from `<dir>/<issuer>/<last path segment>`."""
    listed = parse_shard_list(read_location(str(array), limit=16 << 20), str(array))
    folder = array.parent / array.stem
    where = {u: str(folder / u.rstrip("/").rsplit("/", 1)[-1]) for u in listed}
    return ShardSet(str(array), tuple(listed), where)


# -- notAfter sources --------------------------------------------------------------------


class ExpirySource(Protocol):
    def not_after(self, issuer: bytes, serials: Collection[str]) -> dict[str, datetime]:
        """serial -> notAfter for those of `serials` (issued by `issuer`) it knows."""
        ...


class InventoryExpiry:
    """notAfter from a CA home's inventory (certificates, and precertificates that never
    got a final certificate, which are revoked too)."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self._names: dict[bytes, str] | None = None

    def _issuer_name(self, issuer: bytes) -> str | None:
        if self._names is None:
            self._names = {}
            for rec in self.inventory.issuers():
                subject = x509.load_der_x509_certificate(rec.cert_der).subject.public_bytes()
                self._names.setdefault(subject, rec.name)
        return self._names.get(issuer)

    def not_after(self, issuer: bytes, serials: Collection[str]) -> dict[str, datetime]:
        name = self._issuer_name(issuer)
        if name is None:
            return {}
        out: dict[str, datetime] = {}
        inventory = self.inventory
        for chunk in _chunks(sorted(serials), 500):
            flt = CertificateFilter(issuer=name, serials=tuple(chunk))
            for pre in inventory.list_precertificates(flt):
                out[pre.serial] = pre.not_after
            for cert in inventory.list_certificates(flt):
                out[cert.serial] = cert.not_after
        return out


class CertDirExpiry:
    """notAfter from a directory of certificates (PEM, possibly bundles, or DER)."""

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise InputError(f"--certs {folder}: not a directory")
        self.known: dict[tuple[bytes, str], datetime] = {}
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                for cert in _certificates_in(path):
                    key = (cert.issuer.public_bytes(), format(cert.serial_number, "x"))
                    self.known[key] = cert.not_valid_after_utc

    def not_after(self, issuer: bytes, serials: Collection[str]) -> dict[str, datetime]:
        return {s: self.known[(issuer, s)] for s in serials if (issuer, s) in self.known}


def _certificates_in(path: Path) -> list[x509.Certificate]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            return x509.load_pem_x509_certificates(data)
        if data[:1] == b"\x30":
            return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise InputError(f"{path}: not a readable certificate: {exc}") from None
    return []  # not a certificate file (a README, a key): ignored


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
