"""A profile can be stopped at once on every path, its file must match the stored
version, and every version is owned (and, when required, approved by a second person)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from certkeeper.ca.home import CaHome
from certkeeper.ca.profile_registry import ProfileRegistry, ProfileUnavailable
from certkeeper.cli.main import app
from certkeeper.errors import InputError
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.service import IssueRequest
from certkeeper.store.database import connect, migrate, sqlite_url
from certkeeper.store.inventory import Inventory
from certkeeper.store.profile_control import ProfileControlStore
from factories import PASSPHRASE, csr_pem, make_home

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ECDSA = "tls-dv-ecdsa"
runner = CliRunner()


def run(*args: str, actor: str = "alice") -> tuple[int, str, str]:
    env = {"CERTKEEPER_PASSPHRASE": PASSPHRASE, "CERTKEEPER_ACTOR": actor}
    result = runner.invoke(app, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def make_registry(tmp_path: Path, *, require_approval: bool = False) -> ProfileRegistry:
    engine = connect(sqlite_url(tmp_path / "inv.db"))
    migrate(engine)
    inventory = Inventory(engine)
    control = ProfileControlStore(engine)
    ProfileRegistry(tmp_path / "profiles", inventory, control).install_builtin(NOW, "init-user")
    return ProfileRegistry(
        tmp_path / "profiles", inventory, control, require_approval=require_approval
    )


def edit(registry: ProfileRegistry, old: str = "validity_days = 45", new: str = "") -> Path:
    path = registry.profile_dir / f"{ECDSA}.toml"
    new = new or old.replace("45", "30")
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return path


# -- the registry: the one gate issuance passes ----------------------------------------


def test_disable_refuses_at_once_and_enable_restores(tmp_path: Path) -> None:
    registry = make_registry(tmp_path)
    assert registry.for_issuance(ECDSA).version == 1
    registry.disable(ECDSA, "incident 7: wrong EKU", "alice", NOW)
    with pytest.raises(ProfileUnavailable, match=r"disabled .* by alice: incident 7: wrong EKU"):
        registry.for_issuance(ECDSA)
    assert registry.for_issuance("tls-dv-rsa").version == 1  # only that profile stops
    with pytest.raises(InputError, match="already disabled"):
        registry.disable(ECDSA, "again", "bob", NOW)
    registry.enable(ECDSA, "EKU fixed in v2", "bob", NOW)
    assert registry.for_issuance(ECDSA).version == 1
    assert [(e.action, e.actor) for e in registry.control.history(ECDSA)] == [
        ("disable", "alice"),
        ("enable", "bob"),
    ]


def test_disable_needs_a_reason_and_a_known_profile(tmp_path: Path) -> None:
    registry = make_registry(tmp_path)
    with pytest.raises(InputError, match="--reason"):
        registry.disable(ECDSA, "  ", "alice", NOW)
    with pytest.raises(Exception, match="unknown profile 'nope'"):
        registry.disable("nope", "why", "alice", NOW)
    with pytest.raises(InputError, match="already enabled"):
        registry.enable(ECDSA, "never disabled", "alice", NOW)


def test_an_edited_file_stops_issuance_until_sync_records_it(tmp_path: Path) -> None:
    registry = make_registry(tmp_path)
    path = edit(registry)
    with pytest.raises(ProfileUnavailable, match=rf"{path} differs from the stored v1.*sync"):
        registry.for_issuance(ECDSA)
    registry.sync(NOW, "alice")
    profile = registry.for_issuance(ECDSA)
    assert (profile.version, profile.validity_days) == (2, 30)


def test_a_removed_file_stops_issuance_even_after_sync(tmp_path: Path) -> None:
    registry = make_registry(tmp_path)
    (registry.profile_dir / f"{ECDSA}.toml").rename(tmp_path / "moved-away.toml")
    with pytest.raises(ProfileUnavailable, match="no file in the profile directory declares it"):
        registry.for_issuance(ECDSA)
    registry.sync(NOW, "alice")  # the other file is still there and unchanged
    assert registry.stored_without_file() == [ECDSA]
    with pytest.raises(ProfileUnavailable, match="issuance under it stopped"):
        registry.for_issuance(ECDSA)
    assert registry.for_issuance("tls-dv-rsa").version == 1


def test_a_second_file_declaring_the_id_stops_issuance(tmp_path: Path) -> None:
    registry = make_registry(tmp_path)
    src = registry.profile_dir / f"{ECDSA}.toml"
    (registry.profile_dir / "copy.toml").write_text(src.read_text())
    with pytest.raises(ProfileUnavailable, match="declared by several files"):
        registry.for_issuance(ECDSA)


def test_an_unreadable_file_is_named_when_the_profile_has_no_file(tmp_path: Path) -> None:
    registry = make_registry(tmp_path)
    src = registry.profile_dir / f"{ECDSA}.toml"
    src.write_text(src.read_text() + "\n[[[broken")
    with pytest.raises(ProfileUnavailable, match=rf"unreadable: {ECDSA}.toml"):
        registry.for_issuance(ECDSA)


def test_versions_record_their_author_and_time(tmp_path: Path) -> None:
    registry = make_registry(tmp_path)
    edit(registry)
    registry.sync(NOW, "alice")
    v1, v2 = registry.versions(ECDSA)
    assert (v1.created_by, v2.created_by, v2.created_at) == ("init-user", "alice", NOW)
    assert v2.approved and v2.approved_by is None  # no approval required in this home


def test_with_approval_required_a_new_version_waits_for_a_second_person(tmp_path: Path) -> None:
    registry = make_registry(tmp_path, require_approval=True)
    edit(registry)
    (result,) = [r for r in registry.sync(NOW, "alice") if r.profile_id == ECDSA]
    assert (result.version, result.created, result.live) == (2, True, False)
    assert registry.for_issuance(ECDSA).version == 1  # v1 stays in use meanwhile
    with pytest.raises(InputError, match="recorded by alice; a different person"):
        registry.approve(ECDSA, 2, "alice", NOW)
    assert registry.for_issuance(ECDSA).version == 1
    registry.approve(ECDSA, 2, "bob", NOW)
    assert registry.for_issuance(ECDSA).version == 2
    v2 = registry.versions(ECDSA)[1]
    assert (v2.approved_by, v2.approved_at) == ("bob", NOW)
    with pytest.raises(InputError, match="already approved by bob"):
        registry.approve(ECDSA, 2, "carol", NOW)


def test_a_new_profile_awaiting_approval_cannot_issue(tmp_path: Path) -> None:
    registry = make_registry(tmp_path, require_approval=True)
    text = (registry.profile_dir / f"{ECDSA}.toml").read_text()
    (registry.profile_dir / "short.toml").write_text(
        text.replace(f'id = "{ECDSA}"', 'id = "tls-short"')
    )
    registry.sync(NOW, "alice")
    with pytest.raises(
        ProfileUnavailable, match=r"no approved version: v1 waits .* other than alice"
    ):
        registry.for_issuance("tls-short")


# -- every path: library, CLI single, CLI batch, incident open ---------------------------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    return make_home(tmp_path / "home")


@pytest.fixture
def ca(home: Path) -> Iterator[CaHome]:
    opened = CaHome.open(home)
    yield opened
    opened.close()


def library_issue(ca: CaHome, name: str) -> str:
    from certkeeper.wiring import issuance_service

    request = IssueRequest(load_csr(csr_pem([name])), ECDSA)
    return issuance_service(ca).issue(request).serial


def test_library_path_refuses_a_disabled_profile(ca: CaHome) -> None:
    library_issue(ca, "before.example.com")
    ca.profiles.disable(ECDSA, "stop", "alice", NOW)
    with pytest.raises(ProfileUnavailable, match="disabled"):
        library_issue(ca, "after.example.com")


def test_cli_single_and_batch_refuse_a_disabled_profile(home: Path, tmp_path: Path) -> None:
    csr = tmp_path / "one.csr"
    csr.write_bytes(csr_pem(["one.example.com"]))
    batch = tmp_path / "batch"
    batch.mkdir()
    for i in range(3):
        (batch / f"r{i}.csr").write_bytes(csr_pem([f"b{i}.example.com"]))
    h = str(home)
    code, out, err = run("profile", "disable", ECDSA, "--home", h, "--reason", "bad EKU")
    assert code == 0, err
    assert f"{ECDSA}: disabled by alice" in out
    code, _, err = run("issue", "--home", h, "--csr", str(csr), "--profile", ECDSA)
    assert code == 3
    assert "disabled" in err and "bad EKU" in err
    out_dir = tmp_path / "issued"
    code, _, err = run(
        "issue", "--home", h, "--batch", str(batch), "--profile", ECDSA, "--out", str(out_dir)
    )
    assert code == 3 and "disabled" in err
    assert not list(out_dir.glob("*.pem")) if out_dir.exists() else True
    code, out, _ = run("profile", "list", "--home", h, "--format", "json")
    assert '"disabled": true' in out and "bad EKU (alice)" in out
    code, _, err = run("profile", "enable", ECDSA, "--home", h, "--reason", "fixed", actor="bob")
    assert code == 0, err
    code, _, err = run("issue", "--home", h, "--csr", str(csr), "--profile", ECDSA)
    assert code == 0, err


def test_cli_issue_refuses_an_edited_file_until_sync(home: Path, tmp_path: Path) -> None:
    csr = tmp_path / "one.csr"
    csr.write_bytes(csr_pem(["edited.example.com"]))
    path = home / "profiles" / f"{ECDSA}.toml"
    path.write_text(path.read_text().replace("validity_days = 45", "validity_days = 40"))
    h = str(home)
    code, _, err = run("issue", "--home", h, "--csr", str(csr), "--profile", ECDSA)
    assert code == 3 and "differs from the stored v1" in err
    code, out, _ = run("profile", "list", "--home", h)
    assert "differs" in out
    code, out, err = run("profile", "sync", "--home", h, actor="carol")
    assert code == 0, err
    assert f"{ECDSA}: v2 recorded as new version" in out
    code, out, err = run("issue", "--home", h, "--csr", str(csr), "--profile", ECDSA)
    assert code == 0, err
    assert f"{ECDSA} v2" in err + out
    code, out, _ = run("profile", "list", "--home", h, "--format", "json")
    assert '"recorded_by": "carol"' in out


def test_cli_approval_flow_with_require_approval(home: Path, tmp_path: Path) -> None:
    config = home / "certkeeper.toml"
    config.write_text(
        config.read_text().replace("require_approval = false", "require_approval = true")
    )
    path = home / "profiles" / f"{ECDSA}.toml"
    path.write_text(path.read_text().replace("validity_days = 45", "validity_days = 40"))
    h = str(home)
    code, out, err = run("profile", "sync", "--home", h, actor="alice")
    assert code == 0, err
    assert "v2 recorded as new version, waiting for `certkeeper profile approve`" in out
    code, out, _ = run("profile", "list", "--home", h, "--format", "json")
    assert '"status": "pending approval"' in out
    code, _, err = run("profile", "approve", ECDSA, "--version", "2", "--home", h, actor="alice")
    assert code == 1 and "a different person must approve it" in err
    code, out, err = run(
        "profile", "approve", ECDSA, "--version", "2", "--home", h, "--actor", "bob"
    )
    assert code == 0, err
    assert "v2 approved by bob" in out
    code, out, _ = run("profile", "list", "--home", h, "--format", "json")
    assert '"approved_by": "bob"' in out and '"status": "live"' in out


def test_incident_open_can_disable_the_selectors_profile(ca: CaHome, home: Path) -> None:
    library_issue(ca, "affected.example.com")
    h = str(home)
    code, _, err = run(
        "incident", "open", "--home", h, "--title", "EKU wrong", "--reason", "5",
        "--aware-at", datetime.now(UTC).isoformat(), "--profile", ECDSA, "--disable-profile",
    )  # fmt: skip
    assert code == 0, err
    assert f"profile {ECDSA} disabled by alice" in err
    event = ca.profiles.states()[ECDSA]
    assert event.disabled and event.reason == "incident: EKU wrong"
    with pytest.raises(ProfileUnavailable, match="incident: EKU wrong"):
        library_issue(ca, "later.example.com")
    code, _, err = run(
        "incident", "open", "--home", h, "--title", "x", "--reason", "5",
        "--aware-at", datetime.now(UTC).isoformat(), "--disable-profile",
    )  # fmt: skip
    assert code == 1 and "--disable-profile needs --profile" in err


def test_the_registry_built_by_the_home_reads_require_approval(home: Path) -> None:
    config = home / "certkeeper.toml"
    config.write_text(
        config.read_text().replace("require_approval = false", "require_approval = true")
    )
    ca = CaHome.open(home)
    try:
        assert ca.profiles.require_approval
        assert dataclasses.replace(ca.config).profiles_require_approval
    finally:
        ca.close()


def test_the_actor_is_the_option_then_the_environment_then_the_login(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import getpass

    from certkeeper.cli.common import resolve_actor

    monkeypatch.setattr(getpass, "getuser", lambda: "login-name")
    monkeypatch.delenv("CERTKEEPER_ACTOR", raising=False)
    assert resolve_actor(None) == "login-name"
    monkeypatch.setenv("CERTKEEPER_ACTOR", "from-env")
    assert resolve_actor(None) == "from-env"
    assert resolve_actor("from-option") == "from-option"
    with pytest.raises(InputError, match="--actor"):
        resolve_actor("x" * 129)
    with pytest.raises(InputError, match="--actor"):
        resolve_actor("a\nb")


def test_sync_says_which_stored_profiles_lost_their_file(home: Path) -> None:
    (home / "profiles" / f"{ECDSA}.toml").unlink()
    code, out, err = run("profile", "sync", "--home", str(home))
    assert code == 0, err
    assert f"{ECDSA}: no profile file declares it; issuance under it is stopped" in err
    code, out, _ = run("profile", "list", "--home", str(home), "--format", "json")
    assert "missing: issuance stopped" in out
