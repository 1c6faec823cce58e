"""The CPS renderer and Markdown table reader: what is rendered reads back as the same
claims, hand-written layouts of the same statements read the same, and a mis-structured
table is an error that names its line."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.errors import InputError
from certkeeper.profiles.cps import render_cps
from certkeeper.profiles.cps_claims import (
    OTHER,
    Presence,
    claims_from_profile,
    contradictions,
    facts_from_profile,
)
from certkeeper.profiles.cps_parse import parse_cps, split_row
from certkeeper.profiles.schema import Profile, parse_profile

TODAY = date(2026, 11, 23)  # the BR 6.3.2 limit of profile files is taken on this day


@st.composite
def profiles(draw: st.DrawFn) -> Profile:
    rsa = draw(st.booleans())
    pool = ["rsa-2048", "rsa-3072", "rsa-4096"] if rsa else ["ecdsa-p256", "ecdsa-p384"]
    kts = draw(st.lists(st.sampled_from(pool), min_size=1, unique=True))
    ocsp = draw(st.booleans())
    crldp = draw(st.booleans()) or not ocsp
    pid = draw(st.from_regex(r"[a-z][a-z0-9]{0,10}(-[a-z0-9]{1,6}){0,3}", fullmatch=True))
    toml = f"""
id = "{pid}"
description = "generated"
certificate_type = "subscriber"
validation = "dv"
issuer_key_type = "{"rsa-2048" if rsa else "ecdsa-p256"}"
subscriber_key_types = {kts!r}
validity_days = {draw(st.integers(1, 398))}
backdate_seconds = {draw(st.sampled_from([0, 60, 3600]))}
[subject]
common_name = "{draw(st.sampled_from(["absent", "first_san"]))}"
[extensions.basic_constraints]
include = {str(draw(st.booleans())).lower()}
critical = true
[extensions.key_usage]
critical = true
digital_signature = true
key_encipherment = {str(rsa and draw(st.booleans())).lower()}
key_agreement = {str(not rsa and draw(st.booleans())).lower()}
[extensions.extended_key_usage]
usages = {draw(st.sampled_from([["server_auth"], ["server_auth", "client_auth"]]))!r}
[extensions.authority_information_access]
ocsp = {str(ocsp).lower()}
[extensions.crl_distribution_points]
include = {str(crldp).lower()}
[extensions.subject_key_identifier]
include = {str(draw(st.booleans())).lower()}
""".replace("'", '"')
    version = draw(st.sampled_from([0, 1, 2, 17]))
    return parse_profile(toml, "generated", version=version, historic=True)


@given(profiles())
def test_render_then_parse_gives_the_profiles_claims_and_no_contradiction(p: Profile) -> None:
    doc = parse_cps(render_cps([p], cps_version="2.3"), [p.id])
    assert doc.cps_version == "2.3" and doc.skipped == []
    assert doc.claims == [claims_from_profile(p)]
    assert contradictions(doc.claims[0], facts_from_profile(p)) == []


def _respell(text: str, order: list[int]) -> str:
    """The same tables as an author might write them: columns reordered, headers in
    other case, key usage bits spaced out, presence as yes/no, pipes left off the ends."""
    out = []
    for line in text.splitlines():
        if not line.startswith("|"):
            out.append(line)
            continue
        cells = split_row(line)
        if len(cells) == 5:  # the extension table
            cells = [cells[i] for i in order]
        if (
            len(cells) == 2
            and re.fullmatch(r"[a-zA-Z]+", cells[0])
            and cells[1]
            in (
                "MUST",
                "MUST NOT",
            )
        ):
            spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", cells[0]).title()
            cells = [spaced, {"MUST": "yes", "MUST NOT": "no"}[cells[1]]]
        if set(cells[0]) <= {"-"}:
            out.append(" | ".join(cells))
        else:
            out.append(
                " | ".join(c.upper() if c in ("Extension", "Critical") else c for c in cells)
            )
    return "\n".join(out)


@given(profiles(), st.permutations(range(5)))
def test_hand_written_layouts_of_the_same_tables_read_the_same(
    p: Profile, order: list[int]
) -> None:
    respelled = _respell(render_cps([p]), list(order))
    (claims,) = parse_cps(respelled, [p.id]).claims
    assert claims == claims_from_profile(p)


def _builtin(name: str, version: int = 3) -> Profile:
    from certkeeper.ca.profile_registry import builtin_profile_sources

    return parse_profile(
        builtin_profile_sources()[f"{name}.toml"], name, version=version, today=TODAY
    )


HAND_WRITTEN = """# Example CA CPS

CPS Version: 1.4

## 7.1.2.7.1 Subscriber certificates, profile tls-dv-rsa (RSA keys)

| Field | Value |
| ----- | ----- |
| Validity Period | No longer than 90 days |
| Subject Public Key Info | RSA 2048, 3072 or 4096 bit |

| Extension | Required | Critical | Value and Requirements |
|:---|:---:|:---:|---|
| Authority Information Access | MUST | No | OCSP and caIssuers |
| `extKeyUsage` | MUST | FALSE | id-kp-serverAuth |
| 2.5.29.32 | MUST | N | 2.23.140.1.2.1 |
| Key Usage | MUST | Yes | see below |
| Subject Key Identifier | NOT RECOMMENDED | - | |

Key usage for RSA public keys (BR 7.1.2.7.11 layout):

| Key Usage | Permitted | Required |
| --- | --- | --- |
| `digitalSignature` | Y | MUST |
| `nonRepudiation` | N | -- |
| `keyEncipherment` | N | -- |
| `dataEncipherment` | Y | NOT RECOMMENDED |

## 7.1.2.3 Root CA certificates

| Extension | Presence | Critical |
|---|---|---|
| basicConstraints | MUST | Y |
"""


def test_an_ordinary_cps_reads_into_claims() -> None:
    doc = parse_cps(HAND_WRITTEN, ["tls-dv-rsa", "tls-dv-ecdsa"])
    assert doc.cps_version == "1.4"
    assert doc.skipped == ["line 31: extensions table names no known profile"]
    (claims,) = doc.claims
    assert (claims.profile_id, claims.algorithm, claims.version) == ("tls-dv-rsa", "RSA", None)
    assert claims.section == "§7.1.2.7.1"
    assert claims.validity_days == 90
    assert claims.key_types == frozenset({"rsa-2048", "rsa-3072", "rsa-4096"})
    assert claims.eku == frozenset({"1.3.6.1.5.5.7.3.1"})
    assert claims.policies == frozenset({"2.23.140.1.2.1"})
    assert claims.extensions["2.5.29.15"].critical is True
    assert claims.extensions["2.5.29.14"].presence is Presence.NOT_RECOMMENDED
    assert OTHER not in claims.extensions
    assert claims.key_usage == {
        "digitalSignature": Presence.MUST,
        "nonRepudiation": Presence.MUST_NOT,
        "keyEncipherment": Presence.MUST_NOT,
        "dataEncipherment": Presence.NOT_RECOMMENDED,
    }
    # Seed 000: this CPS says keyEncipherment is absent; the RSA profile asserts it.
    (con,) = contradictions(claims, facts_from_profile(_builtin("tls-dv-rsa")))
    assert con.claim == "keyEncipherment stated absent" and con.profile_verb == "includes it"


def test_a_key_usage_table_with_a_column_per_algorithm_follows_the_heading() -> None:
    text = """## Profile tls-dv-ecdsa (ECDSA)

| Bit | RSA | ECDSA |
|---|---|---|
| Digital Signature | MUST | MUST |
| Key Encipherment | MAY | MUST NOT |
| Key Agreement | MUST NOT | MAY |
"""
    (claims,) = parse_cps(text, ["tls-dv-ecdsa"]).claims
    assert claims.key_usage == {
        "digitalSignature": Presence.MUST,
        "keyEncipherment": Presence.MUST_NOT,
        "keyAgreement": Presence.MAY,
    }
    no_alg = text.replace(" (ECDSA)", "")
    with pytest.raises(InputError, match=r"^line 3: key usage table has a column per key"):
        parse_cps(no_alg, ["tls-dv-ecdsa"])
    # knowing the profile's algorithm is enough; the CPS itself still said none
    (claims,) = parse_cps(no_alg, {"tls-dv-ecdsa": "ECDSA"}).claims
    assert claims.algorithm is None and claims.key_usage["keyEncipherment"] is Presence.MUST_NOT


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            "| Extension | Presence |\n|---|---|\n| keyUsage | MUST | Y |\n",
            "line 5: table row has 3",
        ),
        (
            "| Extension | Presence |\n|---|---|\n| keyUsage | perhaps |\n",
            "line 5: cannot read presence",
        ),
        (
            "| Extension | Critical |\n|---|---|\n| keyUsage | maybe |\n",
            "line 5: cannot read critical",
        ),
        (
            "| Extension | Presence |\n|---|---|\n| fooBar | MUST |\n",
            "line 5: unknown extension 'fooBar'",
        ),
        ("| Extension | Presence |\n| keyUsage | MUST |\n", "line 3: a table row without a header"),
        (
            "| Key usage | Setting |\n|---|---|\n| signEverything | MUST |\n",
            "line 5: 'signEverything' is not a key usage bit",
        ),
        (
            "| Field | Description |\n|---|---|\n| Profile version | three |\n",
            "line 5: profile version 'three'",
        ),
    ],
)
def test_mis_structured_tables_name_their_line(table: str, message: str) -> None:
    text = f"## tls-dv-rsa\n\n{table}"
    with pytest.raises(InputError, match=f"^{re.escape(message)}"):
        parse_cps(text, ["tls-dv-rsa"])


def test_tables_in_code_blocks_and_unrelated_tables_are_ignored() -> None:
    text = """## tls-dv-rsa

```
| Extension | Presence |
| keyUsage | sometimes |
```

| Date | Change |
|---|---|
| 2026-01-01 | first version |

| Extension | Presence |
|---|---|
| keyUsage | MUST |
"""
    (claims,) = parse_cps(text, ["tls-dv-rsa"]).claims
    assert set(claims.extensions) == {"2.5.29.15"}


def test_a_profile_row_maps_a_table_without_a_profile_heading() -> None:
    text = """## 7.1.2.7 Subscriber certificates

| Field | Description |
|---|---|
| Certificate profile | tls-dv-ecdsa |

| Extension | Presence |
|---|---|
| subjectKeyIdentifier | MUST NOT |
"""
    (claims,) = parse_cps(text, ["tls-dv-ecdsa", "tls-dv-rsa"]).claims
    assert claims.profile_id == "tls-dv-ecdsa" and claims.section == "§7.1.2.7"
    assert claims.extensions["2.5.29.14"].presence is Presence.MUST_NOT


def test_value_readers_do_not_invent_oids_key_types_or_versions() -> None:
    from certkeeper.profiles.cps_claims import key_types, policy_oids

    assert policy_oids("2.23.140.1.2.1 (see RFC 5280 4.2.1.4).") == {"2.23.140.1.2.1"}
    assert key_types("RSA with a modulus of at least 3072 bits") == {"rsa-3072", "rsa-4096"}
    assert key_types("RSA 2048 only") == {"rsa-2048"}
    assert key_types("ECDSA on NIST P-256") == {"ecdsa-p256"}
    text = (
        "## tls-dv-rsa for TLS v1.3 servers\n\n"
        "| Extension | Presence |\n|---|---|\n| SAN | MUST |\n"
    )
    (claims,) = parse_cps(text, ["tls-dv-rsa"]).claims
    assert claims.version is None
