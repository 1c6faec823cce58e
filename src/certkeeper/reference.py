"""Reference pages generated from the code, so they cannot drift from it.

docs/configuration.md lists every setting the config parser reads (section, key, type,
default) with the comment `certkeeper init` writes above it; docs/profile-reference.md lists
every key the profile parser reads, with its meaning. Both are produced by running the
real parsers with the validation helpers of `tomlcheck` recorded, so a key added to a
parser shows up here (and a test fails until the pages are regenerated:
`python -m certkeeper.reference config|profiles`).
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from certkeeper import tomlcheck
from certkeeper.lint.reference import render_lint_catalogue


@dataclass(frozen=True)
class Setting:
    section: str
    key: str
    kind: str
    default: str  # as TOML would spell it; "required" when there is none
    note: str


_SECTION = re.compile(r"\[+([a-z_.]+)\]+")


def _section(where: str) -> str:
    """The TOML table a parser's `where` names: "f [validation] perspectives[0]" is
    validation.perspectives, "f [[waivers]] #1" is waivers."""
    found = _SECTION.findall(where)
    if not found:
        return ""
    entry = re.search(r"\] (\w+)\[\d+\]$", where)
    return f"{found[-1]}.{entry.group(1)}" if entry else found[-1]


def _kind(kind: Any) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {
        "str": "string",
        "int": "integer",
        "float": "number",
        "bool": "boolean",
        "list": "array",
        "dict": "table",
    }
    return " or ".join(names.get(k.__name__, k.__name__) for k in kinds)


def _toml(value: Any) -> str:
    if value is ...:
        return "required"
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


@contextmanager
def _recording() -> Iterator[
    tuple[list[tuple[str, tuple[str, ...]]], list[tuple[str, str, str, str]]]
]:
    """Every check_keys and get call made meanwhile, by any certkeeper module."""
    allowed: list[tuple[str, tuple[str, ...]]] = []
    reads: list[tuple[str, str, str, str]] = []
    original_check, original_get = tomlcheck.check_keys, tomlcheck.get

    def check(table: dict[str, Any], keys: Any, where: str) -> None:
        keys = tuple(keys)
        allowed.append((where, keys))
        original_check(table, keys, where)

    def get(table: dict[str, Any], key: str, kind: Any, where: str, default: Any = ...) -> Any:
        reads.append((where, key, _kind(kind), _toml(default)))
        return original_get(table, key, kind, where, default)

    patched = [
        m
        for m in list(sys.modules.values())
        if getattr(m, "__name__", "").startswith("certkeeper")
        and (
            getattr(m, "check_keys", None) is original_check
            or getattr(m, "get", None) is original_get
        )
    ]
    saved = [(m, getattr(m, "check_keys", None), getattr(m, "get", None)) for m in patched]
    for module in patched:
        if getattr(module, "check_keys", None) is original_check:
            module.check_keys = check  # type: ignore[attr-defined]
        if getattr(module, "get", None) is original_get:
            module.get = get  # type: ignore[attr-defined]
    try:
        yield allowed, reads
    finally:
        for module, c, g in saved:
            if c is not None:
                module.check_keys = c  # type: ignore[attr-defined]
            if g is not None:
                module.get = g  # type: ignore[attr-defined]


def _comments(template: str) -> dict[tuple[str, str], str]:
    """(section, key) -> the comment lines right above `key =` (or `# key =`)."""
    notes: dict[tuple[str, str], str] = {}
    section, pending = "", list[str]()
    for raw in template.splitlines():
        line = raw.strip()
        header = re.fullmatch(r"#?\s*\[+([a-z_.]+)\]+", line)
        assignment = re.fullmatch(r"#?\s*([a-z_0-9]+)\s*=.*", line)
        if header:
            if "." in header.group(1):  # [[validation.perspectives]]: a key of its parent
                parent, _, name = header.group(1).rpartition(".")
                notes.setdefault((parent, name), " ".join(pending))
            section, pending = header.group(1), []
        elif assignment:
            notes.setdefault((section, assignment.group(1)), " ".join(pending))
            pending = []
        elif line.startswith("#"):
            pending.append(line.lstrip("# ").strip())
        else:
            pending = []
    return notes


def config_settings() -> list[Setting]:
    """Every setting certkeeper.toml can hold, as the parsers read them."""
    from certkeeper import config
    from certkeeper.settings import validation as validation_settings

    template = config.render_config(
        ca_name="Example CA",
        organization="Example",
        country="US",
        base_url="http://ca.example.com",
        passphrase_file="secrets/passphrase",
    )
    doc = tomllib.loads(template)
    doc.setdefault("validation", {})
    doc.setdefault("acme", {})
    doc.setdefault("ct", {})
    doc["waivers"] = [
        {
            "lint_id": "w_x",
            "justification": "recorded for the reference page, BR 7.1",
            "expires": __import__("datetime").date(2100, 1, 1),
        }
    ]
    with _recording() as (allowed, reads):
        config._parse(doc, Path("/nonexistent-home"), "certkeeper.toml")
        validation_settings._perspectives(
            {"perspectives": [{"name": "p", "region": "RIPE", "url": "https://p.example:8443"}]},
            "certkeeper.toml [validation]",
        )
    notes = _comments(template)
    known = {(_section(w), k): (kind, default) for w, k, kind, default in reads}
    out = []
    for where, keys in allowed:
        section = _section(where)
        if not section:  # the top level: its keys are the tables below
            continue
        for key in keys:
            kind, default = known.get((section, key), ("string", "(none)"))
            out.append(Setting(section, key, kind, default, notes.get((section, key), "")))
    return _first_of_each(out)


def _render(intro: list[str], settings: list[Setting]) -> str:
    """A title and intro, then one table of key, type, default and meaning per section."""
    lines = list(intro)
    section = None
    for s in settings:
        if s.section != section:
            section = s.section
            title = f"`[{section}]`" if section else "top level"
            lines += [
                "",
                f"## {title}",
                "",
                "| key | type | default | meaning |",
                "|---|---|---|---|",
            ]
        note = s.note.replace("|", "\\|")
        lines.append(f"| `{s.key}` | {s.kind} | `{s.default}` | {note} |")
    return "\n".join(lines) + "\n"


def _first_of_each(settings: Iterable[Setting]) -> list[Setting]:
    """One setting per (section, key), the first recorded, in recording order."""
    unique: dict[tuple[str, str], Setting] = {}
    for setting in settings:
        unique.setdefault((setting.section, setting.key), setting)
    return list(unique.values())


def render_config_reference() -> str:
    intro = [
        "# Configuration reference (`certkeeper.toml`)",
        "",
        "Generated from the code by `python -m certkeeper.reference config`: every key the",
        "parser reads, its type and default, and the comment `certkeeper init` writes above",
        "it. Paths are relative to the CA home. Unknown keys and bad values are refused with",
        "the key named.",
    ]
    return _render(intro, config_settings())


EXT = "extensions"
PROFILE_NOTES: dict[tuple[str, str], str] = {
    ("", "id"): "The profile's name; certificates record it with the version.",
    ("", "description"): "One line shown by `profile list` and in the CPS tables.",
    ("", "certificate_type"): "subscriber (the kind of certificate, BR 7.1.2.7).",
    ("", "validation"): "dv, ov, iv or ev: selects the reserved policy OID (BR 7.1.6.1).",
    ("", "issuer_key_type"): "Key type of the issuing CA that signs under this profile.",
    ("", "subscriber_key_types"): "Allowed subscriber keys; one algorithm family per "
    "profile, since key usage differs (BR 6.1.5, 7.1.2.7.11).",
    ("", "validity_days"): "Validity period; checked against the BR 6.3.2 maximum in force.",
    ("", "backdate_seconds"): "How far notBefore is set before issuance (BR 7.1.2.7: at "
    "most 48 hours).",
    ("", "subject"): "The subject table below.",
    ("", EXT): "The extension tables below.",
    ("subject", "common_name"): "first_san (copy the first SAN, BR 7.1.4.3) or none.",
    (EXT, "basic_constraints"): "basicConstraints (BR 7.1.2.7.8).",
    (EXT, "key_usage"): "keyUsage bits (BR 7.1.2.7.11).",
    (EXT, "extended_key_usage"): "extKeyUsage (BR 7.1.2.7.10).",
    (EXT, "certificate_policies"): "certificatePolicies (BR 7.1.2.7.9).",
    (EXT, "authority_information_access"): "AIA: caIssuers and OCSP (BR 7.1.2.7.7).",
    (EXT, "crl_distribution_points"): "cRLDistributionPoints naming the certificate's "
    "shard (BR 7.1.2.11.2).",
    (EXT, "subject_key_identifier"): "subjectKeyIdentifier (BR 7.1.2.11.4: NOT RECOMMENDED).",
    (EXT, "subject_alt_name"): "subjectAltName limits (BR 7.1.2.7.12).",
    (f"{EXT}.basic_constraints", "include"): "Whether the extension is present.",
    (f"{EXT}.basic_constraints", "critical"): "Must be true when present (seed 004).",
    (f"{EXT}.basic_constraints", "ca"): "Must be false for a subscriber certificate.",
    (f"{EXT}.key_usage", "critical"): "Whether keyUsage is critical (SHOULD be).",
    (f"{EXT}.key_usage", "digital_signature"): "digitalSignature (MUST for ECDSA and RSA).",
    (f"{EXT}.key_usage", "key_encipherment"): "keyEncipherment: RSA only, MAY (seed 000: "
    "a CPS that says otherwise is caught by `cps check`).",
    (f"{EXT}.key_usage", "key_agreement"): "keyAgreement: ECDSA only, NOT RECOMMENDED.",
    (f"{EXT}.key_usage", "content_commitment"): "nonRepudiation: MUST NOT.",
    (f"{EXT}.key_usage", "data_encipherment"): "dataEncipherment: NOT RECOMMENDED.",
    (f"{EXT}.key_usage", "key_cert_sign"): "keyCertSign: MUST NOT.",
    (f"{EXT}.key_usage", "crl_sign"): "cRLSign: MUST NOT.",
    (f"{EXT}.key_usage", "encipher_only"): "encipherOnly: MUST NOT.",
    (f"{EXT}.key_usage", "decipher_only"): "decipherOnly: MUST NOT.",
    (f"{EXT}.extended_key_usage", "critical"): "Must be false.",
    (f"{EXT}.extended_key_usage", "usages"): "serverAuth, optionally clientAuth.",
    (f"{EXT}.certificate_policies", "critical"): "Must be false.",
    (f"{EXT}.certificate_policies", "policies"): "Policy OIDs: exactly one reserved "
    "CA/Browser Forum OID matching `validation`, then the CA's own.",
    (f"{EXT}.authority_information_access", "critical"): "Must be false.",
    (f"{EXT}.authority_information_access", "ca_issuers"): "Include the caIssuers URL.",
    (f"{EXT}.authority_information_access", "ocsp"): "Include the OCSP URL (may be left "
    "out only by short-lived profiles).",
    (f"{EXT}.crl_distribution_points", "include"): "Include the shard's CRL URL.",
    (f"{EXT}.crl_distribution_points", "critical"): "Must be false.",
    (f"{EXT}.subject_key_identifier", "include"): "Include a subjectKeyIdentifier.",
    (f"{EXT}.subject_alt_name", "max_names"): "Most names in one certificate.",
    (f"{EXT}.subject_alt_name", "allow_wildcards"): "Whether wildcard names are allowed.",
    (f"{EXT}.subject_alt_name", "allow_ip_addresses"): "Whether IP addresses (iPAddress "
    "entries, RFC 8738 identifiers validated under BR 3.2.2.5) are allowed.",
}


def profile_settings() -> list[Setting]:
    from certkeeper.profiles import schema

    builtin = Path(schema.__file__).parent / "builtin"
    out: list[Setting] = []
    for path in sorted(builtin.glob("*.toml")):
        text = path.read_text(encoding="utf-8")
        with _recording() as (allowed, reads):
            schema.parse_profile(text, path.stem, historic=True)  # no date: the keys read
        known = {(w.split(".", 1)[1] if "." in w else "", k): (kind, d) for w, k, kind, d in reads}
        for where, keys in allowed:
            section = where.split(".", 1)[1] if "." in where else ""
            for key in keys:
                kind, default = known.get((section, key), ("table", "{}"))
                out.append(
                    Setting(section, key, kind, default, PROFILE_NOTES.get((section, key), ""))
                )
    return _first_of_each(out)


def render_profile_reference() -> str:
    intro = [
        "# Profile reference",
        "",
        "Generated from the code by `python -m certkeeper.reference profiles`: every key the",
        "profile parser reads, with its type and default. The BR checks applied at load are",
        "in `src/certkeeper/profiles/schema.py`; the built-in profiles are in",
        "`src/certkeeper/profiles/builtin/`.",
    ]
    return _render(intro, profile_settings())


PAGES: dict[str, tuple[str, Callable[[], str]]] = {
    "config": ("docs/configuration.md", render_config_reference),
    "profiles": ("docs/profile-reference.md", render_profile_reference),
    "lints": ("docs/lint-catalogue.md", render_lint_catalogue),
}

if __name__ == "__main__":  # pragma: no cover - a documentation build step
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    if name not in PAGES:
        sys.exit(f"usage: python -m certkeeper.reference {'|'.join(PAGES)}")
    sys.stdout.write(PAGES[name][1]())
