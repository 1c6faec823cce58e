"""Read the certificate-profile tables of a CPS written in Markdown.

Accepts what `profiles.cps` renders and ordinary hand-written tables: columns in any
order and case, extensions by name ("Key Usage", `keyUsage`) or OID, key usage bits in
RFC 5280 spelling or spaced ("Digital Signature"), presence as RFC 2119 words (MUST,
MAY, NOT RECOMMENDED, ...) or plain yes/no, and the BR 7.1.2.7.11 layout of a key
usage table (Permitted Y/N plus Required).

A table belongs to the profile named by the nearest heading above it (or by a "Profile"
row of a Field / Description table) and, for the key algorithm, by the heading's mention
of RSA or ECDSA. Tables that name no known profile are skipped and listed, since a CPS
also describes root and CA certificates. A table that is recognised as a profile table
but cannot be read is an InputError naming the line.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from certkeeper.errors import InputError
from certkeeper.profiles.cps_claims import (
    OTHER,
    ExtensionClaim,
    Presence,
    ProfileClaims,
    eku_oids,
    extension_oid,
    key_types,
    key_usage_bit,
    normalize,
    policy_oids,
)
from certkeeper.x509.oids import OID_CERT_POLICIES, OID_EKU

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_SECTION = re.compile(r"^§?\s*(\d+(?:\.\d+)+)\b")
_CPS_VERSION = re.compile(r"\bCPS\s+version\s*[:=]?\s*\**\s*v?([0-9][0-9A-Za-z.\-]*)", re.I)

_PRESENCE_WORDS: dict[str, Presence | None] = {
    "must": Presence.MUST,
    "required": Presence.MUST,
    "shall": Presence.MUST,
    "mandatory": Presence.MUST,
    "always": Presence.MUST,
    "yes": Presence.MUST,
    "y": Presence.MUST,
    "present": Presence.MUST,
    "included": Presence.MUST,
    "asserted": Presence.MUST,
    "set": Presence.MUST,
    "true": Presence.MUST,
    "should": Presence.SHOULD,
    "recommended": Presence.SHOULD,
    "may": Presence.MAY,
    "optional": Presence.MAY,
    "permitted": Presence.MAY,
    "notrecommended": Presence.NOT_RECOMMENDED,
    "shouldnot": Presence.NOT_RECOMMENDED,
    "mustnot": Presence.MUST_NOT,
    "shallnot": Presence.MUST_NOT,
    "prohibited": Presence.MUST_NOT,
    "forbidden": Presence.MUST_NOT,
    "never": Presence.MUST_NOT,
    "no": Presence.MUST_NOT,
    "n": Presence.MUST_NOT,
    "absent": Presence.MUST_NOT,
    "notpresent": Presence.MUST_NOT,
    "notincluded": Presence.MUST_NOT,
    "notasserted": Presence.MUST_NOT,
    "notset": Presence.MUST_NOT,
    "notpopulated": Presence.MUST_NOT,
    "notpermitted": Presence.MUST_NOT,
    "false": Presence.MUST_NOT,
    "": None,
}
_DASHES = {"-", "--", "—", "–", "n/a", "na"}
_CRITICAL_WORDS = {
    "y": True,
    "yes": True,
    "true": True,
    "critical": True,
    "n": False,
    "no": False,
    "false": False,
    "noncritical": False,
    "notcritical": False,
}

_EXT_COLS = ("extension", "extensions", "extensionname", "name")
_OID_COLS = ("oid", "objectidentifier", "extensionoid")
_PRESENCE_COLS = ("presence", "required", "requirement", "present", "inclusion", "status", "usage")
_CRITICAL_COLS = ("critical", "criticality", "critical?")
_VALUE_COLS = (
    "description",
    "value",
    "values",
    "contents",
    "content",
    "valueandrequirements",
    "notes",
    "comment",
)
_KU_COLS = ("keyusage", "keyusagebit", "bit", "keyusagebits", "usagebit")
_KU_SETTING_COLS = ("setting", "presence", "required", "asserted", "set", "value", "status")
_FIELD_COLS = ("field", "attribute", "item", "certificatefield")
_DESC_COLS = ("description", "value", "contents", "content", "valueandrequirements")


@dataclass
class CpsDocument:
    """The claims found, the CPS version the text states (if any), and the tables skipped."""

    claims: list[ProfileClaims]
    cps_version: str | None
    skipped: list[str] = field(default_factory=list)


@dataclass
class _Context:
    profile_id: str | None = None
    level: int = 0  # heading level that named the profile
    algorithm: str | None = None
    version: int | None = None
    section: str = ""
    heading_line: int = 0


@dataclass
class _Table:
    line: int  # of the header row
    header: list[str]
    rows: list[tuple[int, list[str]]]


def split_row(line: str) -> list[str]:
    """Cells of a Markdown table row; `\\|` is a literal bar, outer bars are optional."""
    text = line.strip()
    if text.startswith("|"):
        text = text[1:]
    if text.endswith("|") and not text.endswith("\\|"):
        text = text[:-1]
    cells = re.split(r"(?<!\\)\|", text)
    return [c.strip().replace("\\|", "|") for c in cells]


def _is_row(line: str, bare: bool) -> bool:
    """A line of the current table: starts with a bar, or (for a table written without
    outer bars) is a non-blank line with a bar in it."""
    text = line.strip()
    return text.startswith("|") or (bare and bool(text) and "|" in text)


def _is_separator(cells: list[str]) -> bool:
    return bool(cells) and all(re.fullmatch(r":?-{1,}:?", c.replace(" ", "")) for c in cells)


def _plain(cell: str) -> str:
    """A cell without Markdown emphasis or code marks."""
    return re.sub(r"[`*_]", "", cell).strip()


def _column(header: list[str], names: Collection[str]) -> int | None:
    keys = [normalize(h) for h in header]
    for name in names:
        key = normalize(name)
        if key in keys:
            return keys.index(key)
    return None


def parse_presence(cell: str, line: int) -> Presence | None:
    text = _plain(cell)
    if text.lower() in _DASHES:
        return None
    words = text.split("(")[0].strip()
    key = normalize(words)
    if key in _PRESENCE_WORDS:
        return _PRESENCE_WORDS[key]
    for prefix in ("mustnot", "shallnot", "notrecommended", "shouldnot"):
        if key.startswith(prefix):
            return _PRESENCE_WORDS[prefix]
    for prefix in ("must", "shall", "should", "may"):
        if key.startswith(prefix):
            return _PRESENCE_WORDS[prefix]
    raise InputError(f"line {line}: cannot read presence {cell!r} (MUST, MAY, MUST NOT, yes, no)")


def parse_critical(cell: str, line: int) -> bool | None:
    text = _plain(cell)
    if not text or text.lower() in _DASHES or text == "*":
        return None
    key = normalize(text.split("(")[0])
    if key in _CRITICAL_WORDS:
        return _CRITICAL_WORDS[key]
    if key.startswith(("see", "depends", "varies", "conditional")):
        return None
    raise InputError(f"line {line}: cannot read criticality {cell!r} (Y/N, critical, ...)")


def _tables(lines: list[str]) -> list[tuple[int, str | None, _Table | None]]:
    """(line number, heading text or None, table or None) in document order."""
    out: list[tuple[int, str | None, _Table | None]] = []
    i = 0
    in_fence = False
    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        if stripped.startswith(("```", "~~~")):
            in_fence = not in_fence
            i += 1
            continue
        if in_fence:
            i += 1
            continue
        if _HEADING.match(stripped):
            out.append((i + 1, stripped, None))
            i += 1
            continue
        bare_table = (
            "|" in stripped
            and i + 1 < len(lines)
            and "|" in lines[i + 1]
            and _is_separator(split_row(lines[i + 1]))
        )
        if stripped.startswith("|") or bare_table:
            start = i
            block = []
            while i < len(lines) and _is_row(lines[i], bare_table):
                block.append((i + 1, split_row(lines[i])))
                i += 1
            if len(block) < 2 or not _is_separator(block[1][1]):
                raise InputError(
                    f"line {start + 1}: a table row without a header separator line (|---|) "
                    "below its first row"
                )
            header = [_plain(c) for c in block[0][1]]
            rows = []
            for number, cells in block[2:]:
                if len(cells) != len(header):
                    raise InputError(
                        f"line {number}: table row has {len(cells)} cells; its header "
                        f"(line {start + 1}) has {len(header)}"
                    )
                rows.append((number, cells))
            out.append((start + 1, None, _Table(start + 1, header, rows)))
            continue
        i += 1
    return out


def _find_profile(text: str, known: Collection[str]) -> str | None:
    for pid in sorted(known, key=len, reverse=True):
        if re.search(rf"(?<![\w-]){re.escape(pid)}(?![\w-])", text):
            return pid
    return None


def _find_algorithm(text: str) -> str | None:
    if re.search(r"\bRSA\b", text, re.I):
        return "RSA"
    if re.search(r"\b(ECDSA|ECC|EC|elliptic)\b", text, re.I):
        return "ECDSA"
    return None


def _find_version(text: str) -> int | None:
    match = re.search(r"\b(?:version|v)\s*(\d+)(?![.\d])", text, re.I)
    return int(match.group(1)) if match else None


def parse_cps(text: str, known_profiles: Collection[str] | Mapping[str, str]) -> CpsDocument:
    """All profile claims of a CPS. `known_profiles` are the profile ids tables may name;
    given as a mapping id -> key algorithm (RSA / ECDSA), it also picks the column of a
    key usage table written with one column per algorithm when the CPS does not say."""
    algorithms = dict(known_profiles) if isinstance(known_profiles, Mapping) else {}
    lines = text.splitlines()
    version_match = _CPS_VERSION.search(text)
    doc = CpsDocument([], version_match.group(1).rstrip(".") if version_match else None)
    by_key: dict[tuple[str, str | None, int | None], ProfileClaims] = {}
    ctx = _Context()
    sections: dict[int, str] = {}
    for number, heading, table in _tables(lines):
        if heading is not None:
            m = _HEADING.match(heading)
            assert m is not None
            level, title = len(m.group(1)), _plain(m.group(2))
            sec = _SECTION.match(title)
            sections = {k: v for k, v in sections.items() if k < level}
            if sec:
                sections[level] = "§" + sec.group(1)
            pid = _find_profile(title, known_profiles)
            if pid is not None and pid == ctx.profile_id and level > ctx.level:
                # a sub-heading of the same profile ("Extensions of tls-dv-rsa")
                ctx.algorithm = _find_algorithm(title.replace(pid, "")) or ctx.algorithm
                ctx.version = _find_version(title.replace(pid, "")) or ctx.version
            elif pid is not None:
                ctx = _Context(
                    pid,
                    level,
                    _find_algorithm(title.replace(pid, "")),
                    _find_version(title.replace(pid, "")),
                    _section(sections, number),
                    number,
                )
            elif ctx.profile_id is not None and level <= ctx.level:
                ctx = _Context()
            elif ctx.profile_id is not None:
                ctx.algorithm = _find_algorithm(title) or ctx.algorithm
            continue
        assert table is not None
        kind = _kind(table.header)
        if kind is None:
            continue
        if kind == "field":
            named = _field_profile(table, known_profiles)
            if named is not None and named != ctx.profile_id:
                ctx = _Context(named, 7, None, None, _section(sections, number), number)
        if ctx.profile_id is None:
            doc.skipped.append(f"line {number}: {kind} table names no known profile")
            continue
        key = (ctx.profile_id, ctx.algorithm, ctx.version)
        claims = by_key.get(key)
        if claims is None:
            claims = ProfileClaims(
                ctx.profile_id,
                ctx.algorithm,
                ctx.version,
                section=ctx.section or f"line {ctx.heading_line or number}",
                line=number,
            )
            by_key[key] = claims
            doc.claims.append(claims)
        if kind == "field":
            _read_fields(table, claims)
            if claims.version is not None and ctx.version is None:
                # a "Profile version" row pins the block; later tables follow it
                del by_key[key]
                ctx.version = claims.version
                by_key[(ctx.profile_id, ctx.algorithm, ctx.version)] = claims
        elif kind == "extensions":
            _read_extensions(table, claims)
        else:
            _read_key_usage(table, claims, ctx.algorithm or algorithms.get(ctx.profile_id))
    return doc


def _section(sections: dict[int, str], line: int) -> str:
    return sections[max(sections)] if sections else f"line {line}"


def _kind(header: list[str]) -> str | None:
    if _column(header, _EXT_COLS) is not None and (
        _column(header, _PRESENCE_COLS) is not None or _column(header, _CRITICAL_COLS) is not None
    ):
        return "extensions"
    if _column(header, _KU_COLS) is not None and len(header) >= 2:
        return "key usage"
    if _column(header, _FIELD_COLS) is not None and _column(header, _DESC_COLS) is not None:
        return "field"
    return None


def _field_profile(table: _Table, known: Collection[str]) -> str | None:
    f = _column(table.header, _FIELD_COLS)
    d = _column(table.header, _DESC_COLS)
    assert f is not None and d is not None
    for _, cells in table.rows:
        if normalize(cells[f]) in ("profile", "profileid", "certificateprofile", "profilename"):
            return _find_profile(_plain(cells[d]), known)
    return None


def _read_fields(table: _Table, claims: ProfileClaims) -> None:
    f = _column(table.header, _FIELD_COLS)
    d = _column(table.header, _DESC_COLS)
    assert f is not None and d is not None
    for number, cells in table.rows:
        name = normalize(cells[f])
        value = _plain(cells[d])
        if name == "profileversion":
            if not value.isdigit():
                raise InputError(f"line {number}: profile version {value!r} is not a number")
            claims.version = int(value)
        elif name in ("validityperiod", "validity", "maximumvalidity", "maximumvalidityperiod"):
            m = re.search(r"(\d[\d,]*)\s*days?\b", value, re.I)
            if m is not None:
                claims.validity_days = int(m.group(1).replace(",", ""))
        elif name in (
            "subjectpublickey",
            "subjectpublickeyinfo",
            "publickey",
            "keytype",
            "keytypes",
            "subjectpublickeyalgorithm",
        ):
            found = key_types(value)
            if found:
                claims.key_types = found
            alg = _find_algorithm(value)
            if (
                claims.algorithm is None
                and alg is not None
                and not ("RSA" in value.upper() and "EC" in value.upper())
            ):
                claims.algorithm = alg


def _read_extensions(table: _Table, claims: ProfileClaims) -> None:
    h = table.header
    e = _column(h, _EXT_COLS)
    o = _column(h, _OID_COLS)
    p = _column(h, _PRESENCE_COLS)
    c = _column(h, _CRITICAL_COLS)
    v = _column(h, _VALUE_COLS)
    assert e is not None
    for number, cells in table.rows:
        name = _plain(cells[e])
        oid = None
        if o is not None and re.fullmatch(r"[0-9.]+", _plain(cells[o])):
            oid = _plain(cells[o])
        oid = oid or extension_oid(name)
        if oid is None:
            raise InputError(f"line {number}: unknown extension {name!r} (use its name or OID)")
        presence = parse_presence(cells[p], number) if p is not None else None
        critical = parse_critical(cells[c], number) if c is not None else None
        claims.extensions[oid] = ExtensionClaim(presence, critical)
        if v is None or oid == OTHER or presence is Presence.MUST_NOT:
            continue
        if oid == OID_EKU:
            found = eku_oids(cells[v])
            if found:
                claims.eku = found
        elif oid == OID_CERT_POLICIES:
            policies = policy_oids(cells[v])
            if policies:
                claims.policies = policies


def _read_key_usage(table: _Table, claims: ProfileClaims, algorithm: str | None) -> None:
    h = table.header
    k = _column(h, _KU_COLS)
    assert k is not None
    per_alg = {
        "RSA": _column(h, ("rsa", "rsakeys", "rsapublickeys")),
        "ECDSA": _column(h, ("ecdsa", "ecc", "ec", "ecdsakeys", "eccpublickeys")),
    }
    permitted = _column(h, ("permitted", "allowed"))
    setting = None
    if algorithm is not None and per_alg.get(algorithm) is not None:
        setting = per_alg[algorithm]
    elif any(i is not None for i in per_alg.values()):
        raise InputError(
            f"line {table.line}: key usage table has a column per key algorithm but the "
            "heading above does not say which algorithm this profile uses (RSA or ECDSA)"
        )
    else:
        setting = _column(h, _KU_SETTING_COLS)
        if setting is None and permitted is None:
            others = [i for i in range(len(h)) if i != k]
            setting = others[0]
    for number, cells in table.rows:
        bit = key_usage_bit(_plain(cells[k]))
        if bit is None:
            raise InputError(
                f"line {number}: {cells[k]!r} is not a key usage bit (RFC 5280 4.2.1.3 names, "
                "e.g. digitalSignature or Digital Signature)"
            )
        presence = parse_presence(cells[setting], number) if setting is not None else None
        if permitted is not None and parse_presence(cells[permitted], number) is Presence.MUST_NOT:
            presence = Presence.MUST_NOT
        if presence is not None:
            claims.key_usage[bit] = presence
