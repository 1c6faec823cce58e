"""The CA home's settings file (`certkeeper.toml`) as typed, validated objects.

A CA home is a directory holding the config, the encrypted keys, the certificates of
the hierarchy and (by default) the SQLite inventory. Every relative path in the config
is relative to the home, so a home can be moved or copied whole (drills use copies).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from certkeeper.acme.settings import AcmeSettings, parse_acme
from certkeeper.auditlog.settings import AuditLogSettings, parse_audit_log
from certkeeper.ct.settings import CtSettings, parse_ct
from certkeeper.errors import ConfigError
from certkeeper.signing.tokens import TokenConfig
from certkeeper.tomlcheck import (
    TomlProblem,
    check_keys,
    get,
    get_date,
    get_table,
    read_toml,
)
from certkeeper.urls import base_url_problem
from certkeeper.validation.settings import ValidationSettings, parse_validation

CONFIG_NAME = "certkeeper.toml"
SMTP_TLS_MODES = ("none", "starttls", "implicit")
PASSPHRASE_ENV = "CERTKEEPER_PASSPHRASE"


@dataclass(frozen=True)
class Waiver:
    """An explicit, justified, expiring exception to one lint."""

    lint_id: str
    justification: str
    expires: date

    def active(self, at: datetime) -> bool:
        return at.astimezone(UTC).date() < self.expires


@dataclass(frozen=True)
class Config:
    home: Path
    ca_name: str
    organization: str
    country: str
    cps_version: str
    base_url: str  # http URL under which AIA, CRL and OCSP URLs are published
    database_url: str
    key_dir: Path
    passphrase_file: Path | None
    profile_dir: Path
    issuance_workers: int
    use_pkilint: bool
    crl_shards: int
    crl_budget_bytes: int
    crl_dir: Path = Path("crl")
    # BR 4.9.7: a CRL of subscriber certificates has nextUpdate at most 10 days after
    # thisUpdate and is reissued at least every 7 days; 7 leaves 3 days for a late run.
    crl_next_update_days: int = 7
    # BR 4.9.7: a CA CRL's nextUpdate is at most twelve months out (365 days never more).
    crl_ca_next_update_days: int = 365
    # RFC 5280 3.3: an entry stays until one regularly scheduled CRL issued after its
    # certificate expired has carried it; with 7-day reissue, 10 days is enough.
    crl_lookback_days: int = 10
    smtp_host: str = "localhost"
    smtp_port: int = 25
    mail_from: str = "ca@example.com"
    # none | starttls | implicit (SMTPS); authentication needs one of the last two
    smtp_tls: str = "none"
    smtp_username: str | None = None
    smtp_password_file: Path | None = None
    notify_attempts: int = 3
    # a failed notice is retried after retry_minutes, doubling with each attempt
    notify_retry_minutes: int = 15
    waivers: tuple[Waiver, ...] = field(default_factory=tuple)
    # Keys in a PKCS#11 token instead of key files; the passphrase is the user PIN.
    pkcs11: TokenConfig | None = None
    validation: ValidationSettings = field(default_factory=ValidationSettings)
    acme: AcmeSettings = field(default_factory=AcmeSettings)
    # Certificate Transparency: off unless [ct] names a log list.
    ct: CtSettings = field(default_factory=CtSettings)
    # False for a home made with `init --non-public` (demos, private PKI): no domain
    # authorization at issuance, and never mixed with a public hierarchy.
    public: bool = True
    # A new profile version is live only once a second person approves it.
    profiles_require_approval: bool = False
    # Where the audit log is mirrored besides the inventory (docs/audit-log.md).
    audit_log: AuditLogSettings = field(default_factory=AuditLogSettings)

    @property
    def config_path(self) -> Path:
        return self.home / CONFIG_NAME

    def passphrase(self) -> bytes:
        """The key passphrase: $CERTKEEPER_PASSPHRASE, else a systemd credential named
        `passphrase` (LoadCredential=, deploy/systemd), else the configured file.

        Never prompts: CA commands run unattended."""
        env = os.environ.get(PASSPHRASE_ENV)
        if env:
            return env.encode()
        credentials = os.environ.get("CREDENTIALS_DIRECTORY")
        if credentials and (Path(credentials) / "passphrase").is_file():
            value = (Path(credentials) / "passphrase").read_bytes().strip()
            if not value:
                raise ConfigError(f"the systemd credential {credentials}/passphrase is empty")
            return value
        if self.passphrase_file is None:
            raise ConfigError(
                f"no key passphrase: set {PASSPHRASE_ENV} or keys.passphrase_file in "
                f"{self.config_path}"
            )
        try:
            value = self.passphrase_file.read_bytes().strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot read passphrase file {self.passphrase_file}: {exc}"
            ) from None
        if not value:
            raise ConfigError(f"passphrase file {self.passphrase_file} is empty")
        return value

    @property
    def crl_shard_validity(self) -> timedelta:
        return timedelta(days=self.crl_next_update_days)

    @property
    def crl_ca_validity(self) -> timedelta:
        return timedelta(days=self.crl_ca_next_update_days)

    @property
    def crl_lookback(self) -> timedelta:
        return timedelta(days=self.crl_lookback_days)

    def waivers_in_force(self, at: datetime) -> dict[str, Waiver]:
        return {w.lint_id: w for w in self.waivers if w.active(at)}


_TOP = (
    "ca",
    "database",
    "keys",
    "profiles",
    "issuance",
    "crl",
    "notify",
    "waivers",
    "validation",
    "acme",
    "ct",
    "audit_log",
)


def load_config(home: Path) -> Config:
    """Read and validate `home/certkeeper.toml`; any problem is one ConfigError line."""
    path = home / CONFIG_NAME
    if not home.is_dir():
        raise ConfigError(f"CA home {home} does not exist (create one with `certkeeper init`)")
    if not path.is_file():
        raise ConfigError(f"{home} is not a CA home: {CONFIG_NAME} is missing")
    try:
        return _parse(read_toml(path), home.resolve(), str(path))
    except TomlProblem as exc:
        raise ConfigError(str(exc)) from None


def _parse(doc: dict[str, Any], home: Path, where: str) -> Config:
    check_keys(doc, _TOP, where)
    ca = get_table(doc, "ca", where)
    check_keys(
        ca,
        ("name", "organization", "country", "cps_version", "base_url", "public"),
        f"{where} [ca]",
    )
    db = get_table(doc, "database", where)
    check_keys(db, ("url",), f"{where} [database]")
    keys = get_table(doc, "keys", where)
    kw = f"{where} [keys]"
    check_keys(keys, ("dir", "passphrase_file", "pkcs11_module", "pkcs11_token"), kw)
    pkcs11_module = get(keys, "pkcs11_module", str, kw, default="")
    pkcs11_token = get(keys, "pkcs11_token", str, kw, default="")
    if bool(pkcs11_module) != bool(pkcs11_token):
        raise TomlProblem(f"{kw}: pkcs11_module and pkcs11_token go together")
    profiles = get_table(doc, "profiles", where)
    check_keys(profiles, ("dir", "require_approval"), f"{where} [profiles]")
    iss = get_table(doc, "issuance", where)
    check_keys(iss, ("workers", "pkilint"), f"{where} [issuance]")
    crl = get_table(doc, "crl", where)
    check_keys(
        crl,
        (
            "shards",
            "budget_bytes",
            "dir",
            "next_update_days",
            "ca_next_update_days",
            "lookback_days",
        ),
        f"{where} [crl]",
    )
    cw = f"{where} [crl]"
    next_days = get(crl, "next_update_days", int, cw, default=7)
    if not 1 <= next_days <= 10:
        raise TomlProblem(f"{cw}.next_update_days: {next_days} is outside 1..10 (BR 4.9.7)")
    ca_days = get(crl, "ca_next_update_days", int, cw, default=365)
    if not 1 <= ca_days <= 365:
        raise TomlProblem(f"{cw}.ca_next_update_days: {ca_days} is outside 1..365 (BR 4.9.7)")
    lookback = get(crl, "lookback_days", int, cw, default=10)
    if not next_days <= lookback <= 3650:
        # RFC 5280 3.3: an entry stays until one scheduled CRL issued after expiry has it
        raise TomlProblem(
            f"{cw}.lookback_days: {lookback} must be at least next_update_days ({next_days})"
        )
    notify = get_table(doc, "notify", where)
    nw = f"{where} [notify]"
    check_keys(
        notify,
        (
            "smtp_host",
            "smtp_port",
            "from",
            "starttls",
            "tls",
            "username",
            "password_file",
            "attempts",
            "retry_minutes",
        ),
        nw,
    )
    smtp_tls = get(notify, "tls", str, nw, default="none")
    if smtp_tls not in SMTP_TLS_MODES:
        raise TomlProblem(f"{nw}.tls: {smtp_tls!r} is not one of {', '.join(SMTP_TLS_MODES)}")
    if get(notify, "starttls", bool, nw, default=False):  # the older spelling
        smtp_tls = "starttls"
    smtp_username = get(notify, "username", str, nw, default="") or None
    smtp_password = get(notify, "password_file", str, nw, default="")
    if smtp_username and smtp_tls == "none":
        raise TomlProblem(f"{nw}.username: SMTP authentication needs tls = starttls or implicit")
    retry_minutes = get(notify, "retry_minutes", int, nw, default=15)
    if not 1 <= retry_minutes <= 1440:
        raise TomlProblem(f"{nw}.retry_minutes: {retry_minutes} is not between 1 and 1440")
    smtp_port = get(notify, "smtp_port", int, nw, default=25)
    if not 1 <= smtp_port <= 65535:
        raise TomlProblem(f"{nw}.smtp_port: {smtp_port} is not a TCP port")
    mail_from = get(notify, "from", str, nw, default="ca@example.com")
    if "@" not in mail_from:
        raise TomlProblem(f"{nw}.from: {mail_from!r} is not an email address")
    attempts = get(notify, "attempts", int, nw, default=3)
    if not 1 <= attempts <= 20:
        raise TomlProblem(f"{nw}.attempts: {attempts} is not between 1 and 20")

    base_url = get(ca, "base_url", str, f"{where} [ca]")
    url_problem = base_url_problem(base_url)  # plain http:// and RFC 3986 characters
    if url_problem:
        raise TomlProblem(f"{where} [ca].base_url: {url_problem}, got {base_url!r}")
    country = get(ca, "country", str, f"{where} [ca]", default="")
    if country and (len(country) != 2 or not country.isalpha() or not country.isupper()):
        raise TomlProblem(f"{where} [ca].country: {country!r} is not a two-letter code")

    workers = get(iss, "workers", int, f"{where} [issuance]", default=2)
    if not 1 <= workers <= 64:
        raise TomlProblem(f"{where} [issuance].workers: {workers} is not between 1 and 64")
    shards = get(crl, "shards", int, f"{where} [crl]", default=16)
    if not 1 <= shards <= 65536:
        raise TomlProblem(f"{where} [crl].shards: {shards} is not between 1 and 65536")
    budget = get(crl, "budget_bytes", int, f"{where} [crl]", default=10_000_000)
    if budget < 10_000:
        raise TomlProblem(f"{where} [crl].budget_bytes: {budget} is too small (minimum 10000)")

    url = get(db, "url", str, f"{where} [database]", default="sqlite:///inventory.db")
    pass_file = get(keys, "passphrase_file", str, f"{where} [keys]", default="")

    waivers = []
    raw_waivers = get(doc, "waivers", list, where, default=[])
    for i, entry in enumerate(raw_waivers):
        w_where = f"{where} [[waivers]] #{i + 1}"
        if not isinstance(entry, dict):
            raise TomlProblem(f"{w_where}: expected a table")
        check_keys(entry, ("lint_id", "justification", "expires"), w_where)
        justification = get(entry, "justification", str, w_where).strip()
        if len(justification) < 10:
            raise TomlProblem(f"{w_where}: a waiver needs a real justification")
        waivers.append(
            Waiver(
                lint_id=get(entry, "lint_id", str, w_where),
                justification=justification,
                expires=get_date(entry, "expires", w_where),
            )
        )

    return Config(
        home=home,
        ca_name=get(ca, "name", str, f"{where} [ca]"),
        organization=get(ca, "organization", str, f"{where} [ca]"),
        country=country,
        cps_version=get(ca, "cps_version", str, f"{where} [ca]"),
        base_url=base_url.rstrip("/"),
        database_url=_resolve_db_url(url, home),
        key_dir=home / get(keys, "dir", str, f"{where} [keys]", default="keys"),
        passphrase_file=(home / pass_file) if pass_file else None,
        pkcs11=TokenConfig(Path(pkcs11_module), pkcs11_token) if pkcs11_module else None,
        profile_dir=home / get(profiles, "dir", str, f"{where} [profiles]", default="profiles"),
        issuance_workers=workers,
        use_pkilint=get(iss, "pkilint", bool, f"{where} [issuance]", default=True),
        crl_shards=shards,
        crl_budget_bytes=budget,
        crl_dir=home / get(crl, "dir", str, f"{where} [crl]", default="crl"),
        crl_next_update_days=next_days,
        crl_ca_next_update_days=ca_days,
        crl_lookback_days=lookback,
        smtp_host=get(notify, "smtp_host", str, nw, default="localhost"),
        smtp_port=smtp_port,
        mail_from=mail_from,
        smtp_tls=smtp_tls,
        smtp_username=smtp_username,
        smtp_password_file=(home / smtp_password) if smtp_password else None,
        notify_attempts=attempts,
        notify_retry_minutes=retry_minutes,
        waivers=tuple(waivers),
        validation=parse_validation(get_table(doc, "validation", where), where),
        acme=parse_acme(get_table(doc, "acme", where), where),
        ct=parse_ct(get_table(doc, "ct", where), where, home),
        audit_log=parse_audit_log(get_table(doc, "audit_log", where), where, home),
        public=get(ca, "public", bool, f"{where} [ca]", default=True),
        profiles_require_approval=get(
            profiles, "require_approval", bool, f"{where} [profiles]", default=False
        ),
    )


def _resolve_db_url(url: str, home: Path) -> str:
    """`sqlite:///relative.db` is relative to the CA home; absolute URLs pass through."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite://":
        return prefix + str(home / url[len(prefix) :])
    return url


def render_config(
    *,
    ca_name: str,
    organization: str,
    country: str,
    base_url: str,
    passphrase_file: str,
    database_url: str = "sqlite:///inventory.db",
    cps_version: str = "1.0",
    crl_shards: int = 16,
    pkcs11_module: str = "",
    pkcs11_token: str = "",
    public: bool = True,
) -> str:
    """The config `certkeeper init` writes, with every setting spelled out."""
    return f"""# certkeeper CA home configuration. Paths are relative to this directory.

[ca]
name = {_q(ca_name)}
organization = {_q(organization)}
country = {_q(country)}
# The CPS version certificates are issued under; recorded with every certificate.
cps_version = {_q(cps_version)}
# AIA caIssuers, CRL distribution point and OCSP URLs are published under this URL.
base_url = {_q(base_url)}
# true: publicly-trusted issuance, every name domain-validated with a CAA check.
# false (init --non-public): demos and private PKI, names not validated. Fixed at init.
public = {"true" if public else "false"}

[database]
# SQLite file in this home by default; PostgreSQL: "postgresql+psycopg://user@host/db"
url = {_q(database_url)}

[keys]
dir = "keys"
# The key passphrase comes from $CERTKEEPER_PASSPHRASE, or else from this file.
passphrase_file = {_q(passphrase_file)}
{_pkcs11_lines(pkcs11_module, pkcs11_token)}
[profiles]
dir = "profiles"
# true: a new profile version is used only after `certkeeper profile approve` by a
# different person than the one who recorded it.
require_approval = false

[issuance]
workers = 2
# pkilint is the second, independent linter; both must pass before the real key signs.
pkilint = true

[crl]
shards = {crl_shards}
# Per-shard byte budget; publication beyond it is refused unless overridden.
budget_bytes = 10000000
# Where `certkeeper crl publish` writes shards (served under /crl by `certkeeper serve`).
dir = "crl"
# nextUpdate of shard CRLs (BR 4.9.7: at most 10 days) and of the root's CA CRL
# (at most 12 months); revoked entries stay this long after their certificate expires.
next_update_days = 7
ca_next_update_days = 365
lookback_days = 10

[notify]
# Subscriber notification of revocation campaigns (primary and backup contacts).
smtp_host = "localhost"
smtp_port = 25
from = "ca@example.com"
# "none", "starttls" or "implicit" (SMTPS, usually port 465); authentication needs TLS
tls = "none"
# username = "ca-notices"
# password_file = "secrets/smtp-password"   # or $CERTKEEPER_SMTP_PASSWORD
attempts = 3
# a failed notice is retried after this many minutes, doubling with each attempt
retry_minutes = 15

[audit_log]
# Every security event is chained in the inventory and mirrored here as JSON lines
# (docs/audit-log.md); "" for none. syslog = true also sends each entry to syslog.
mirror = "audit-log.jsonl"
syslog = false

# Certificate Transparency (docs/ct.md): without a log list no SCTs are embedded. With
# one (Chrome's v3 log_list.json schema), every final certificate carries SCTs that
# meet the stricter of Chrome's and Apple's policies, or is not signed.
# [ct]
# log_list = "ct/log_list.json"
# policies = ["chrome", "apple"]
# timeout_seconds = 10
# deadline_seconds = 60
# attempts_per_log = 3
# backoff_seconds = 0.5

# Explicit, justified, expiring lint waivers, e.g.:
# [[waivers]]
# lint_id = "w_example"
# justification = "why this finding is acceptable, with a reference"
# expires = 2027-01-31
"""


def _pkcs11_lines(module: str, token: str) -> str:
    if not module:
        return (
            "# Keys in a PKCS#11 token (an HSM) instead of files; the passphrase is then the\n"
            "# token's user PIN:\n"
            '# pkcs11_module = "/usr/lib/softhsm/libsofthsm2.so"\n'
            '# pkcs11_token = "certkeeper"\n'
        )
    return (
        "# Keys live in this PKCS#11 token; the passphrase is the token's user PIN.\n"
        f"pkcs11_module = {_q(module)}\npkcs11_token = {_q(token)}\n"
    )


def _q(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
