"""The CA home's settings file (`certkeeper.toml`) as typed, validated objects.

A CA home is a directory holding the config, the encrypted keys, the certificates of
the hierarchy and (by default) the SQLite inventory. Every relative path in the config
is relative to the home, so a home can be moved or copied whole (drills use copies).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from certkeeper.errors import ConfigError
from certkeeper.lint.waivers import Waiver
from certkeeper.settings.acme import AcmeSettings, parse_acme
from certkeeper.settings.audit_log import AuditLogSettings, parse_audit_log
from certkeeper.settings.ct import CtSettings, parse_ct
from certkeeper.settings.pkcs11 import TokenConfig
from certkeeper.settings.validation import ValidationSettings, parse_validation
from certkeeper.tomlcheck import (
    TomlProblem,
    check_keys,
    get,
    get_date,
    get_table,
    read_toml,
)
from certkeeper.urls import base_url_problem

CONFIG_NAME = "certkeeper.toml"
SMTP_TLS_MODES = ("none", "starttls", "implicit")
PASSPHRASE_ENV = "CERTKEEPER_PASSPHRASE"


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
    # Certificate Transparency: required in a public home, off in a non-public one without a list.
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
# Every setting is listed with its default; docs/configuration.md is the reference.

[ca]
# The CA's name, used in the subject of the CA certificates init makes.
name = {_q(ca_name)}
# organizationName of the CA certificates (BR 7.1.2.10.2).
organization = {_q(organization)}
# countryName of the CA certificates: an ISO 3166-1 alpha-2 code (BR 7.1.2.10.2).
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
# Directory of the encrypted key files.
dir = "keys"
# The key passphrase comes from $CERTKEEPER_PASSPHRASE, or else from this file.
passphrase_file = {_q(passphrase_file)}
{_pkcs11_lines(pkcs11_module, pkcs11_token)}
[profiles]
# Directory of the profile files (`certkeeper profile sync` records their versions).
dir = "profiles"
# true: a new profile version is used only after `certkeeper profile approve` by a
# different person than the one who recorded it.
require_approval = false

[issuance]
# Worker processes for batch issuance (one per core).
workers = 2
# pkilint is the second, independent linter; both must pass before the real key signs.
pkilint = true

[crl]
# CRL shards per issuing CA; each certificate's shard is fixed at issuance.
shards = {crl_shards}
# Per-shard byte budget; publication beyond it is refused unless overridden.
budget_bytes = 10000000
# Where `certkeeper crl publish` writes shards (served under /crl by `certkeeper serve`).
dir = "crl"
# nextUpdate of shard CRLs in days (BR 4.9.7: at most 10).
next_update_days = 7
# nextUpdate of the root's CA CRL in days (BR 4.9.7: at most 12 months).
ca_next_update_days = 365
# Days a revoked entry stays after its certificate expires (RFC 5280 3.3).
lookback_days = 10

[notify]
# Subscriber notices of revocation campaigns (primary and backup contacts): SMTP host.
smtp_host = "localhost"
# SMTP port (25 or 587; 465 with tls = "implicit").
smtp_port = 25
# Sender address of the notices.
from = "ca@example.com"
# "none", "starttls" or "implicit" (SMTPS, usually port 465); authentication needs TLS
tls = "none"
# Older spelling of tls = "starttls".
# starttls = false
# SMTP user name; its password comes from $CERTKEEPER_SMTP_PASSWORD, a systemd
# credential named smtp-password, or password_file.
# username = "ca-notices"
# File holding the SMTP password.
# password_file = "secrets/smtp-password"
# Attempts per notice before it is reported as abandoned.
attempts = 3
# A failed notice is retried after this many minutes, doubling with each attempt.
retry_minutes = 15

[audit_log]
# Every security event is chained in the inventory and mirrored here as JSON lines
# (docs/audit-log.md); "" for none.
mirror = "audit-log.jsonl"
# true: also send each entry to syslog.
syslog = false

# Domain validation (BR 3.2.2.4) and CAA (BR 3.2.2.8); docs/validation.md.
# [validation]
# Port of http-01 checks (BR 3.2.2.4.19: 80).
# http_port = 80
# Port of tls-alpn-01 checks (BR 3.2.2.4.20: 443).
# tls_alpn_port = 443
# DNS resolver host:port of the primary perspective ("" for the system's).
# resolver = ""
# Seconds for one DNS query or one HTTP/TLS check.
# timeout_seconds = 10.0
# MPIC (BR 3.2.2.9): the primary's client certificate, key and the perspectives' CA.
# mpic_client_cert = "mpic/primary.pem"
# Private key of mpic_client_cert.
# mpic_client_key = "mpic/primary.key"
# CA certificate of the remote perspectives' server certificates.
# mpic_ca_file = "mpic/ca.pem"
# Seconds to wait for a remote perspective's answer.
# mpic_timeout_seconds = 15.0
# Seconds an idle connection to a perspective is kept for reuse.
# mpic_pool_idle_seconds = 2.0
# false only for tests and development: issue without remote corroboration.
# mpic_required = true
# CAA issuer domain names that mean this CA (RFC 8659).
# caa_identities = ["ca.example.com"]
# Days a validation may be reused (BR 4.2.1: at most 398; default from br.py).
# reuse_days = 398
# true only for tests: let checks reach loopback and private addresses.
# private_addresses = false
# Extra ports an http-01 redirect may go to (tests).
# redirect_ports = []
# Name whose SOA must validate (AD) through the resolver when a validating process starts.
# dnssec_probe = "."
# Name known to be bogus whose SOA must then fail validation ("" for no such check).
# dnssec_bogus_probe = ""
# false only for tests whose DNS server cannot sign: start without proving DNSSEC works.
# dnssec_check = true
# Remote perspectives, one table each (`certkeeper serve va-remote` on their hosts).
# [[validation.perspectives]]
# The perspective's name, as in its certificate.
# name = "ripe-1"
# Its RIR region (BR 3.2.2.9: perspectives in distinct regions).
# region = "RIPE"
# Its URL (mutual TLS).
# url = "https://va-ripe-1.example.net:8443"

# The ACME server (RFC 8555, ARI RFC 9773); docs/acme.md.
# [acme]
# Public URL of the ACME server ("" to derive it from the request).
# base_url = ""
# Default profile for ECDSA keys.
# ecdsa_profile = "tls-dv-ecdsa"
# Default profile for RSA keys.
# rsa_profile = "tls-dv-rsa"
# URL of the subscriber agreement shown in the directory.
# terms_of_service = ""
# URL of the CA's website shown in the directory.
# website = ""
# Hours an order stays pending.
# order_lifetime_hours = 168
# Hours a valid authorization is kept for an account.
# authorization_lifetime_hours = 168
# Seconds a nonce is accepted.
# nonce_lifetime_seconds = 3600
# Largest JWS request body, in bytes.
# max_request_bytes = 65536
# Most identifiers in one order.
# max_identifiers = 100
# Rate limit: new orders per account per hour (0: none).
# orders_per_account_per_hour = 300
# Rate limit: certificates per registered domain per week, taken at finalize.
# certificates_per_domain_per_week = 50
# Rate limit: failed validations per account and name per hour.
# failed_validations_per_account_name_per_hour = 5
# Rate limit: new accounts per client address per 3 hours.
# accounts_per_ip_per_3_hours = 10
# Retry-After (seconds) while an order or challenge is processing.
# processing_retry_after = 1
# Seconds a challenge POST waits for a quick validation before answering "processing".
# challenge_answer_wait_seconds = 0.5
# Retry-After (seconds) of a renewal-info answer outside an incident (60 to 3600: the
# longest one bounds how late a client hears of an incident).
# renewal_info_retry_after = 3600
# ACME profiles offered in the directory: name = {{ ecdsa = "...", rsa = "..." }}.
# profiles = {{ classic = {{ ecdsa = "tls-dv-ecdsa", rsa = "tls-dv-rsa" }} }}

# Certificate Transparency (docs/ct.md). A public home issues nothing until this names
# a log list (Chrome's v3 log_list.json schema); then every final certificate carries
# SCTs that meet the stricter of Chrome's and Apple's policies, or is not signed. A
# non-public home without a list embeds no SCTs.
# [ct]
# The log list file.
# log_list = "ct/log_list.json"
# The CT policies to meet together.
# policies = ["chrome", "apple"]
# Seconds for one log's answer.
# timeout_seconds = 10
# Seconds for all submissions of one certificate.
# deadline_seconds = 60
# Attempts per log before another log is tried.
# attempts_per_log = 3
# Seconds before a retry, doubling per attempt.
# backoff_seconds = 0.5

# Explicit, justified, expiring lint waivers, e.g.:
# [[waivers]]
# The lint whose finding is accepted.
# lint_id = "w_example"
# Why the finding is acceptable, with a reference.
# justification = "why this finding is acceptable, with a reference"
# The day the waiver stops applying.
# expires = 2027-01-31
"""


def _pkcs11_lines(module: str, token: str) -> str:
    if not module:
        return (
            "# Keys in a PKCS#11 token (an HSM) instead of files; the passphrase is then the\n"
            "# token's user PIN:\n"
            '# pkcs11_module = "/usr/lib/softhsm/libsofthsm2.so"\n'
            "# The token's label.\n"
            '# pkcs11_token = "certkeeper"\n'
        )
    return (
        "# Keys live in this PKCS#11 token; the passphrase is the token's user PIN.\n"
        f"pkcs11_module = {_q(module)}\n# The token's label.\npkcs11_token = {_q(token)}\n"
    )


def _q(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
