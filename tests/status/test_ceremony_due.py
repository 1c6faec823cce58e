"""When the offline root's next CA-CRL ceremony is due: the installed CA CRL's
nextUpdate minus the margin, a warning within the margin, shown by `crl status` and the
metrics; every time here comes from a clock the test sets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from prometheus_client.core import Metric
from typer.testing import CliRunner

from ca.test_ceremony import ceremony_root
from certkeeper.ca.home import CaHome
from certkeeper.cli.main import app
from certkeeper.status.ceremony_due import CEREMONY_MARGIN, ceremony_due
from certkeeper.status.inventory_metrics import InventoryCollector
from factories import PASSPHRASE

runner = CliRunner()
T0 = datetime(2031, 5, 1, 12, tzinfo=UTC)
NEXT_UPDATE = T0 + timedelta(days=365)


def run(*args: str) -> tuple[int, str, str]:
    env = {"CERTKEEPER_PASSPHRASE": PASSPHRASE, "CERTKEEPER_ACTOR": "olivia"}
    result = runner.invoke(app, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def write_crl(path: Path, this_update: datetime, next_update: datetime, number: int = 7) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "Test Root")])
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(name)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .sign(key, hashes.SHA256())
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(crl.public_bytes(Encoding.DER))


@pytest.mark.parametrize(
    ("now", "state"),
    [
        (T0, "ok"),
        (NEXT_UPDATE - CEREMONY_MARGIN - timedelta(seconds=1), "ok"),
        (NEXT_UPDATE - CEREMONY_MARGIN, "warning"),
        (NEXT_UPDATE - timedelta(days=1), "warning"),
        (NEXT_UPDATE, "overdue"),
    ],
)
def test_due_is_next_update_minus_the_margin(tmp_path: Path, now: datetime, state: str) -> None:
    write_crl(tmp_path / "root.crl", T0, NEXT_UPDATE)
    due = ceremony_due(tmp_path, "root", now)
    assert (due.state, due.crl_number) == (state, 7)
    assert (due.next_update, due.due) == (NEXT_UPDATE, NEXT_UPDATE - CEREMONY_MARGIN)
    assert due.sentence().startswith("warning: ") == (state != "ok")


def test_no_installed_crl_is_a_warning(tmp_path: Path) -> None:
    due = ceremony_due(tmp_path, "root", T0)
    assert due.state == "missing" and due.due is None
    assert "ceremony crl" in due.sentence() and due.sentence().startswith("warning: ")


@pytest.fixture(scope="module")
def offline_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("due")
    root = ceremony_root(base)
    home = base / "online"
    code, _, err = run(
        "init", "--home", str(home), "--non-public", "--root-cert", str(root / "root.pem")
    )
    assert code == 0, err
    return home


def samples(metrics: list[Metric], name: str) -> dict[str, float]:
    (family,) = [m for m in metrics if m.name == name]
    return {s.labels.get("root", ""): s.value for s in family.samples}


def test_the_metrics_show_when_the_ceremony_is_due(offline_home: Path) -> None:
    write_crl(offline_home / "crl" / "root.crl", T0, NEXT_UPDATE)
    ca = CaHome.open(offline_home)
    try:
        now = NEXT_UPDATE - timedelta(days=40)
        collector = InventoryCollector(ca.inventory, 1, lambda: now, crl_dir=ca.config.crl_dir)
        metrics = list(collector.collect())
        assert samples(metrics, "certkeeper_ca_crl_seconds_to_ceremony") == {
            "root": timedelta(days=10).total_seconds()
        }
        assert samples(metrics, "certkeeper_ca_crl_seconds_to_next_update") == {
            "root": timedelta(days=40).total_seconds()
        }
        assert samples(metrics, "certkeeper_ca_crl_ceremony_warning") == {"root": 0}
        now = NEXT_UPDATE - timedelta(days=20)
        metrics = list(collector.collect())
        assert samples(metrics, "certkeeper_ca_crl_ceremony_warning") == {"root": 1}
    finally:
        ca.close()


def test_crl_status_names_the_due_date_and_warns_within_the_margin(offline_home: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)  # only offsets from it matter
    for days, warned in ((200, False), (10, True)):
        next_update = now + timedelta(days=days)
        write_crl(offline_home / "crl" / "root.crl", now, next_update, number=days)
        code, out, err = run("crl", "status", "--home", str(offline_home))
        assert code == 0, err
        due = next_update - CEREMONY_MARGIN
        (line,) = [x for x in out.splitlines() if "CA-CRL ceremony" in x]
        assert f"due by {due:%Y-%m-%d %H:%M} UTC" in line
        assert f"CA CRL #{days} of root" in line
        assert line.startswith("warning: ") == warned
