"""certkeeper against public lint corpora: pkilint's TLS BR and CRL cases, zlint's cabf_br
and rfc testdata (vendored under tests/data/corpora).

Every case where certkeeper and a corpus disagree is listed in disagreements.csv with
its reason; the test fails on a new disagreement and on a listed one that went away, so
the list stays the exact measure of what is left. Each document is linted once.
"""

from __future__ import annotations

import csv

import pytest
from corpora import (
    DISAGREEMENTS,
    ROOT,
    Case,
    certkeeper_findings,
    listed_disagreements,
    pkilint_cases,
    verdict,
    zlint_cases,
    zlint_map,
)

from certkeeper.lint.catalogue import all_lints


@pytest.fixture(scope="module")
def cases() -> tuple[Case, ...]:
    return pkilint_cases() + zlint_cases()


def test_corpora_are_complete(cases: tuple[Case, ...]) -> None:
    pk = [c for c in cases if c.corpus == "pkilint"]
    assert len(pk) == 186  # 183 TLS BR certificates and 3 CRLs
    assert sum(c.expect_fail for c in pk) == 157
    assert len([c for c in cases if c.corpus == "zlint"]) == 405
    for project in ("pkilint", "zlint"):
        assert (ROOT / project / "LICENSE").is_file()
        assert "commit:" in (ROOT / project / "SOURCE").read_text(encoding="utf-8")


def test_zlint_map_covers_every_expected_lint_with_real_ids() -> None:
    mapping = zlint_map()
    with (ROOT / "zlint" / "expected.csv").open(encoding="utf-8") as f:
        expected = {row["lint"] for row in csv.DictReader(f)}
    assert expected == set(mapping)
    known = {lint.id for lint in all_lints()}
    assert {i for ids in mapping.values() for i in ids} <= known


def test_disagreements_are_exactly_the_listed_ones(cases: tuple[Case, ...]) -> None:
    measured = set()
    for case in cases:
        kind = verdict(case, certkeeper_findings(case))
        if kind is not None:
            measured.add((case.corpus, case.name, kind))
    listed = listed_disagreements()
    new = sorted(measured - set(listed))
    gone = sorted(set(listed) - measured)
    assert not new, f"new disagreements (fix the lint or list them in {DISAGREEMENTS.name}): {new}"
    assert not gone, f"listed disagreements that no longer disagree (remove them): {gone}"
    assert all(reason.strip() for reason in listed.values())
