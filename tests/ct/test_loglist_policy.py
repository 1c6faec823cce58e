"""Log lists (Chrome v3 schema) and the CT policy as data."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from certkeeper.ct.loglist import (
    LogListError,
    iter_submittable,
    load_log_list,
    parse_log_list,
    render_log_list,
)
from certkeeper.ct.policy import APPLE, CHROME, POLICIES, required_for
from certkeeper.settings.ct import POLICY_NAMES, parse_ct
from certkeeper.tomlcheck import TomlProblem

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def key() -> bytes:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    )


def sample() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        render_log_list(
            [
                ("Op A", "a 2026h2", key(), "https://a.example/2026h2/"),
                ("Op A", "a 2027h1", key(), "https://a.example/2027h1/"),
                ("Op B", "b", key(), "https://b.example/"),
            ],
            T0,
        )
    )
    a = doc["operators"][0]["logs"]
    a[0]["temporal_interval"] = {
        "start_inclusive": "2026-07-01T00:00:00Z",
        "end_exclusive": "2027-01-01T00:00:00Z",
    }
    a[1]["temporal_interval"] = {
        "start_inclusive": "2027-01-01T00:00:00Z",
        "end_exclusive": "2027-07-01T00:00:00Z",
    }
    return doc


def test_a_chrome_v3_list_parses_and_shards_select_by_not_after() -> None:
    logs = parse_log_list(json.dumps(sample()), "list.json")
    assert [log.operator for log in logs.logs] == ["Op A", "Op A", "Op B"]
    picked = list(iter_submittable(logs, datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)))
    assert [log.description for log in picked] == ["a 2026h2", "b"]
    # end_exclusive: a certificate expiring at the very start of 2027 is the next shard's
    picked = list(iter_submittable(logs, datetime(2027, 1, 1, tzinfo=UTC)))
    assert [log.description for log in picked] == ["a 2027h1", "b"]
    assert logs.logs[2].endpoint("add-pre-chain") == "https://b.example/ct/v1/add-pre-chain"


def test_only_usable_and_qualified_logs_are_submitted_to() -> None:
    doc = sample()
    doc["operators"][1]["logs"][0]["state"] = {"readonly": {"timestamp": "2026-01-01T00:00:00Z"}}
    logs = parse_log_list(json.dumps(doc), "list.json")
    assert [log.operator for log in iter_submittable(logs, T0 + timedelta(days=200))] == ["Op A"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("operators"), "operators: missing"),
        (
            lambda d: d["operators"][1]["logs"][0].update(key="@@"),
            r"operators\[1\].logs\[0\].key: not base64",
        ),
        (
            lambda d: d["operators"][1]["logs"][0].update(
                log_id=base64.b64encode(b"x" * 32).decode()
            ),
            "log_id: is not the SHA-256 of the key",
        ),
        (lambda d: d["operators"][1]["logs"][0].update(url="ftp://b/"), "url: 'ftp://b/' is not"),
        (lambda d: d["operators"][1]["logs"][0].update(state={"gone": {}}), "unknown state 'gone'"),
        (
            lambda d: d["operators"][0]["logs"][0]["temporal_interval"].update(
                end_exclusive="2026-01-01T00:00:00Z"
            ),
            "start_inclusive is not before end_exclusive",
        ),
        (lambda d: d["operators"][1].update(name="Op A"), "operator 'Op A' listed twice"),
        (
            lambda d: d["operators"][1]["logs"][0].update(
                key=base64.b64encode(
                    ec.generate_private_key(ec.SECP384R1())
                    .public_key()
                    .public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
                ).decode()
            ),
            "RFC 6962 logs use P-256",
        ),
    ],
)
def test_each_schema_problem_is_one_line_naming_the_path(mutate: Any, message: str) -> None:
    doc = sample()
    mutate(doc)
    with pytest.raises(LogListError, match=message) as info:
        parse_log_list(json.dumps(doc), "list.json")
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("CT log list list.json: ")


def test_unreadable_and_non_json_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(LogListError, match="cannot read"):
        load_log_list(str(tmp_path / "absent.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(LogListError, match="not JSON"):
        load_log_list(str(bad))


def test_policy_is_the_stricter_of_chrome_and_apple_by_lifetime() -> None:
    nb = datetime(2026, 12, 1, tzinfo=UTC)
    short = required_for(nb, nb + timedelta(days=45))
    assert (short.logs, short.operators) == (2, 2)
    assert short.because == ("chrome", "apple")
    edge = required_for(nb, nb + timedelta(days=180))
    assert edge.logs == 2
    long = required_for(nb, nb + timedelta(days=180, seconds=1))
    assert (long.logs, long.operators) == (3, 2)
    assert CHROME.effective > APPLE.effective
    # before Chrome's 2022-04-15 policy only Apple's is in force
    old = required_for(datetime(2021, 6, 1, tzinfo=UTC), datetime(2021, 9, 1, tzinfo=UTC))
    assert old.because == ("apple",)


def test_the_policy_names_settings_accept_are_the_policy_rows() -> None:
    # settings may not import ct, so the names [ct] policies accepts are a second list.
    assert set(POLICY_NAMES) == set(POLICIES)


def test_requirement_counts_distinct_logs_and_operators() -> None:
    nb = datetime(2026, 12, 1, tzinfo=UTC)
    req = required_for(nb, nb + timedelta(days=45))
    assert req.unmet([(b"1", "A"), (b"2", "B")]) is None
    assert "has 2 from 1 operator" in (req.unmet([(b"1", "A"), (b"2", "A")]) or "")
    assert "has 1 from 1 operator" in (req.unmet([(b"1", "A"), (b"1", "A")]) or "")


def test_ct_settings_default_off_and_reject_bad_values(tmp_path: Path) -> None:
    assert not parse_ct({}, "c.toml", tmp_path).enabled
    on = parse_ct(
        {"log_list": "ct/logs.json", "deadline_seconds": 5, "timeout_seconds": 1},
        "c.toml",
        tmp_path,
    )
    assert on.log_list == tmp_path / "ct/logs.json"
    assert on.submission.deadline_seconds == 5.0
    for table, message in [
        ({"policies": ["firefox"]}, "policies"),
        ({"deadline_seconds": 1, "timeout_seconds": 2}, "shorter than timeout"),
        ({"attempts_per_log": 0}, "attempts_per_log"),
        ({"timeout_seconds": True}, "timeout_seconds"),
        ({"lg_list": "x"}, "lg_list"),
    ]:
        with pytest.raises(TomlProblem, match=message):
            parse_ct(table, "c.toml", tmp_path)


def test_the_cps_statement_comes_from_the_policy_rows() -> None:
    from certkeeper.ct.policy import statement

    both = statement()
    assert "2 for a lifetime of at most 180 days, 3 above" in both
    assert "at least 2 different log operators" in both
    assert "the stricter of the Chrome and Apple CT policies" in both
    assert "the Apple CT policy in force" in statement(["apple"])
