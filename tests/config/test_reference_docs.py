"""docs/configuration.md and docs/profile-reference.md are generated from the parsers;
they fail here when a key is added without regenerating them or without a comment in
the config `init` writes."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from certkeeper import reference
from certkeeper.config import render_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("page", sorted(reference.PAGES))
def test_the_reference_page_is_current(page: str) -> None:
    path, render = reference.PAGES[page]
    assert (ROOT / path).read_text(encoding="utf-8") == render(), (
        f"{path} is out of date: run `python -m certkeeper.reference {page} > {path}`"
    )


def test_every_setting_is_explained_where_init_writes_it() -> None:
    settings = reference.config_settings()
    assert len(settings) > 60
    sections = {s.section for s in settings}
    assert {"ca", "crl", "notify", "validation", "acme", "ct", "audit_log"} <= sections
    assert [f"[{s.section}] {s.key}" for s in settings if not s.note] == []
    template = render_config(
        ca_name="x",
        organization="o",
        country="US",
        base_url="http://ca.example.com",
        passphrase_file="secrets/passphrase",
    )
    tomllib.loads(template)  # what init writes parses
    for s in settings:
        written = f"{s.key} =" in template or f"[[{s.section}.{s.key}]]" in template
        assert written, f"init does not write [{s.section}] {s.key}"


def test_every_profile_key_has_a_meaning() -> None:
    settings = reference.profile_settings()
    assert len(settings) > 30
    assert [f"{s.section}.{s.key}" for s in settings if not s.note] == []


def test_a_key_missing_from_the_reference_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: a parser that reads one more key changes the generated page."""
    import certkeeper.config as config

    original = config._parse

    def parse_one_more(doc: dict[str, object], home: Path, where: str) -> config.Config:
        parsed = original(doc, home, where)
        config.check_keys({}, ("brand_new",), f"{where} [crl]")
        return parsed

    monkeypatch.setattr(config, "_parse", parse_one_more)
    page = reference.render_config_reference()
    assert "`brand_new`" in page
    assert (ROOT / "docs/configuration.md").read_text() != page
