"""The offline root: a ceremony creates it in its own home, signs issuing CAs and the CA
CRL with witnesses and a signed transcript; the online home works without ever opening
the root key, and serves the ceremony's CA CRL byte for byte."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from typer.testing import CliRunner

from certkeeper.ca.home import CaHome
from certkeeper.ca.root_home import RootHome, ca_crl_next_update
from certkeeper.cli.main import app
from certkeeper.issuer_keys import OFFLINE_KEY
from factories import PASSPHRASE, csr_pem

runner = CliRunner()
WITNESS = ("--witness", "walter")


def run(
    *args: str, actor: str = "olivia", env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    result = runner.invoke(
        app,
        list(args),
        env={"CERTKEEPER_PASSPHRASE": PASSPHRASE, "CERTKEEPER_ACTOR": actor, **(env or {})},
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def ok(*args: str, **kw: Any) -> str:
    code, out, err = run(*args, **kw)
    assert code == 0, err
    return out


@pytest.fixture
def key_loads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """A counting signer: every key any command opens, online or in the ceremony."""
    counts: Counter[str] = Counter()
    online = CaHome._load_signer
    offline = RootHome.signer

    def count_online(self: CaHome, key_ref: str) -> Any:
        counts[f"online:{key_ref}"] += 1
        return online(self, key_ref)

    def count_root(self: RootHome, passphrase: bytes) -> Any:
        counts["root"] += 1
        return offline(self, passphrase)

    monkeypatch.setattr(CaHome, "_load_signer", count_online)
    monkeypatch.setattr(RootHome, "signer", count_root)
    return counts


def ceremony_root(tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> Path:
    root = tmp_path / "root"
    ok("ceremony", "root", "--root", str(root), "--base-url", "http://pki.example.com",
       *WITNESS, *extra, env=env)  # fmt: skip
    return root


def online_home(tmp_path: Path, root: Path) -> Path:
    home = tmp_path / "online"
    ok("init", "--home", str(home), "--non-public", "--root-cert", str(root / "root.pem"))
    csr = tmp_path / "e1.csr"
    ok(
        "ca",
        "csr",
        "tls-ecdsa-1",
        "--key-type",
        "ecdsa-p256",
        "--out",
        str(csr),
        "--home",
        str(home),
    )
    cert = tmp_path / "e1.pem"
    ok("ceremony", "sign-ca", str(csr), "--out", str(cert), "--root", str(root), *WITNESS)
    ok("ca", "import", str(cert), "--activate", "--home", str(home))
    return home


def _get(home: Path, path: str) -> tuple[int, bytes]:
    from certkeeper.status.http import StatusApp
    from certkeeper.status.responder import OcspResponder

    ca = CaHome.open(home)
    status_app = StatusApp(ca.inventory, home / "crl", ocsp=OcspResponder(ca.stores.ocsp))
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": []}
    asyncio.run(status_app(scope, receive, send))
    ca.close()
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return int(sent[0]["status"]), body


def test_an_online_home_without_the_root_key_issues_revokes_and_publishes(
    tmp_path: Path, key_loads: Counter[str]
) -> None:
    root = ceremony_root(tmp_path)
    home = online_home(tmp_path, root)
    assert key_loads["root"] == 1  # sign-ca opened it (`ceremony root` made it)
    key_loads.clear()

    csr = tmp_path / "leaf.csr"
    csr.write_bytes(csr_pem(["www.example.com"]))
    code, out, err = run(
        "issue", "--home", str(home), "--csr", str(csr), "--profile", "tls-dv-ecdsa"
    )
    assert code == 0, err
    serial = (out + err).split("serial ")[1].split()[0]
    ok("revoke", serial, "--home", str(home), "--reason", "keyCompromise")
    ok("crl", "publish", "--home", str(home))
    ok("ocsp", "refresh", "--home", str(home))
    assert key_loads["root"] == 0
    assert not [k for k in key_loads if k == f"online:{OFFLINE_KEY}"]
    assert all("tls-ecdsa-1" in k for k in key_loads), key_loads
    assert not (home / "crl" / "root.crl").exists()  # publish never makes the root's CRL

    code, _, err = run("ca", "add-issuer", "tls-ecdsa-2", "--key-type", "ecdsa-p256",
                       "--home", str(home))  # fmt: skip
    assert code == 1
    assert err.strip() == (
        "error: the root key is offline: it signs only in a key ceremony (docs/key-ceremony.md)"
    )


def test_the_ca_crl_from_the_ceremony_is_served_unchanged(tmp_path: Path) -> None:
    root = ceremony_root(tmp_path)
    home = online_home(tmp_path, root)
    e1 = x509.load_pem_x509_certificate((tmp_path / "e1.pem").read_bytes())
    serial = f"{e1.serial_number:x}"
    ok("ceremony", "revoke-ca", serial, "--reason", "keyCompromise", "--root", str(root), *WITNESS)
    arl = tmp_path / "arl.der"
    ok("ceremony", "crl", "--out", str(arl), "--root", str(root), *WITNESS)
    signed = arl.read_bytes()
    ok("ca", "import-crl", str(arl), "--home", str(home))
    ok("crl", "publish", "--home", str(home))
    assert (home / "crl" / "root.crl").read_bytes() == signed
    assert _get(home, "/crl/root.crl") == (200, signed)

    crl = x509.load_der_x509_crl(signed)
    assert [r.serial_number for r in crl] == [e1.serial_number]
    assert crl.next_update_utc == ca_crl_next_update(crl.last_update_utc)
    check = subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-in", str(arl), "-noout", "-text",
         "-CAfile", str(root / "root.pem")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "verify OK" in check.stderr + check.stdout
    assert "Key Compromise" in check.stdout

    code, _, err = run("ca", "import-crl", str(arl), "--home", str(home))
    assert code == 1 and "CRL number 1 is not newer than the installed 1" in err
    code, _, err = run("ceremony", "crl", "--out", str(tmp_path / "late.der"), "--root",
                       str(root), "--next-update", "2099-01-01T00:00:00Z", *WITNESS)  # fmt: skip
    assert code == 1 and "more than twelve months after thisUpdate" in err and "BR 4.9.7" in err


def test_every_ceremony_act_needs_a_witness_who_is_not_the_operator(tmp_path: Path) -> None:
    code, _, err = run("ceremony", "root", "--root", str(tmp_path / "r"), "--base-url",
                       "http://pki.example.com")  # fmt: skip
    assert code == 1 and err.strip() == "error: a ceremony needs at least one --witness NAME"
    code, _, err = run("ceremony", "root", "--root", str(tmp_path / "r"), "--base-url",
                       "http://pki.example.com", "--witness", "olivia")  # fmt: skip
    assert code == 1 and "is the operator; a witness is another person" in err
    assert not (tmp_path / "r").exists()


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _tampered(entries: list[str], kind: str) -> list[str]:
    out = list(entries)
    if kind == "edit":
        e = json.loads(out[1])
        e["witnesses"] = ["nobody"]
        out[1] = json.dumps(e)
    elif kind == "delete":
        del out[1]
    elif kind == "reorder":
        out[1], out[2] = out[2], out[1]
    elif kind == "truncate-and-append":
        out = out[:1] + out[2:]
    return out


@pytest.mark.parametrize("kind", ["edit", "delete", "reorder", "truncate-and-append"])
def test_a_full_transcript_verifies_and_fails_after_any_edit(tmp_path: Path, kind: str) -> None:
    root = ceremony_root(tmp_path)
    online_home(tmp_path, root)
    ok("ceremony", "crl", "--out", str(tmp_path / "arl.der"), "--root", str(root), *WITNESS)
    transcript = root / "transcript.jsonl"
    entries = _lines(transcript)
    assert [json.loads(e)["command"] for e in entries] == [
        "ceremony root", "ceremony sign-ca", "ceremony crl",
    ]  # fmt: skip
    first = json.loads(entries[0])
    assert first["operator"] == "olivia" and first["witnesses"] == ["walter"]
    assert len(first["detail"]["root_sha256"]) == 64 and first["detail"]["key_id"]
    assert "verified" in ok("ceremony", "verify", "--root", str(root))

    copy = tmp_path / "copy.jsonl"
    copy.write_text("\n".join(_tampered(entries, kind)) + "\n")
    code, _, err = run("ceremony", "verify", "--root", str(root), "--transcript", str(copy))
    assert code == 4, err
    assert "error: transcript" in err


def test_a_transcript_re_signed_with_another_key_fails(tmp_path: Path) -> None:
    root = ceremony_root(tmp_path)
    other = ceremony_root(tmp_path / "other")
    code, _, err = run("ceremony", "verify", "--root", str(root), "--key",
                       str(other / "transcript-key.pub.pem"))  # fmt: skip
    assert code == 4 and "signature does not verify with the transcript key" in err


def test_twelve_months_is_calendar_months() -> None:
    t = datetime(2027, 1, 31, 12, tzinfo=UTC)
    assert ca_crl_next_update(t) == datetime(2028, 1, 31, 12, tzinfo=UTC)
    assert ca_crl_next_update(datetime(2028, 2, 29, tzinfo=UTC)) == datetime(
        2029, 2, 28, tzinfo=UTC
    )


def test_softhsm2_as_the_root_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The root key made in, and used from, a SoftHSM2 token; the ceremony records which."""
    import shutil

    from signing.test_pkcs11 import MODULE, new_token

    if not MODULE.is_file() or shutil.which("softhsm2-util") is None:
        pytest.skip("SoftHSM2 is not installed (scripts/setup.sh installs it)")
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    label = new_token("ceremony-root")
    root = ceremony_root(tmp_path, "--pkcs11-module", str(MODULE), "--pkcs11-token", label)
    assert not list((root / "keys").glob("root*"))  # no key file: the key is in the token
    assert 'key = "pkcs11:' in (root / "root.toml").read_text()
    home = online_home(tmp_path, root)
    assert CaHome.open(home).active_issuer("ecdsa-p256").name == "tls-ecdsa-1"
    ok("ceremony", "crl", "--out", str(tmp_path / "arl.der"), "--root", str(root), *WITNESS)
    first = json.loads(_lines(root / "transcript.jsonl")[0])
    assert first["detail"]["token"] == label and first["detail"]["key"].startswith("pkcs11:")
    # the token's own statement of the key (PKCS#11 has no attestation): made inside it,
    # never readable in clear, never exportable
    provenance = first["detail"]["key_provenance"]
    assert provenance["token"]["label"] == label and provenance["token"]["model"] == "SoftHSM v2"
    assert provenance["generated_in_token"] is True
    assert provenance["key_attributes"]["extractable"] is False
    assert provenance["attestation"].startswith("none: PKCS#11 defines no key attestation")
    assert "3 entries verified" in ok("ceremony", "verify", "--root", str(root))


def test_ca_csr_and_import_are_in_the_online_audit_log(tmp_path: Path) -> None:
    home = online_home(tmp_path, ceremony_root(tmp_path))
    out = ok("audit-log", "show", "--home", str(home), "--event", "ca.", "--format", "json")
    rows = [(r["event"], r["subject"], r["actor"]) for r in json.loads(out)]
    assert rows[-4:] == [
        ("ca.key-created", "tls-ecdsa-1", "olivia"),
        ("ca.certificate-imported", "tls-ecdsa-1", "olivia"),
        ("ca.certificate-created", "ocsp-tls-ecdsa-1-1", "olivia"),
        ("ca.activated", "tls-ecdsa-1", "olivia"),
    ]
    created, imported = json.loads(out)[-4:-2]
    assert created["detail"]["csr_sha256"] == imported["detail"]["csr_sha256"]
    ok("audit-log", "verify", "--home", str(home))
