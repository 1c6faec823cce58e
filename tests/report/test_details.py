"""Report fields and action items: strict validation, storage in the incident's
details, and an event (actor, time) for every change."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.errors import InputError
from certkeeper.revocation import details
from certkeeper.store.incidents import IncidentStore

from .conftest import Campaign

ACTION = {
    "kind": "prevent",
    "description": "Check keyUsage against the key type in the profile linter",
    "root_cause": "Root Cause #1",
    "criteria": "The issuance test suite refuses keyEncipherment on ECDSA keys",
    "due": "2026-12-15",
    "status": "not started",
}


def store(c: Campaign) -> IncidentStore:
    return IncidentStore(c.ca.inventory.engine)


def test_fields_are_normalized_stored_and_logged(campaign: Campaign) -> None:
    s = store(campaign)
    result = details.update_details(
        s,
        campaign.incident_id,
        now=campaign.now,
        who="alice",
        sets=[
            ("ca_owner_id", "A000123"),
            ("non_compliance_start", "2026-10-01"),
            ("non_compliance_end", "2026-11-14T10:30:00+01:00"),
            ("issuance_stopped", "no"),
            ("description", "  Profile allowed keyEncipherment.\n\nSecond paragraph.  "),
        ],
        adds=[
            ("relevant_policies", "TLS BR 7.1.2.7.11"),
            ("timeline", "2026-10-01T08:00Z|Profile version 3 deployed"),
            ("related_incidents", "1962829|2025-04-25|Policy document bug"),
        ],
    )
    assert result["non_compliance_start"] == "2026-10-01T00:00:00+00:00"
    assert result["non_compliance_end"] == "2026-11-14T09:30:00+00:00"
    assert result["issuance_stopped"] is False
    assert result["description"] == "Profile allowed keyEncipherment.\n\nSecond paragraph."
    assert result["timeline"] == [
        {"at": "2026-10-01T08:00:00+00:00", "event": "Profile version 3 deployed"}
    ]
    assert result["related_incidents"] == [
        {"bug": "1962829", "date": "2025-04-25", "description": "Policy document bug"}
    ]
    assert s.get(campaign.incident_id).details == result
    event = s.events(campaign.incident_id)[-1]
    assert (event.event, event.actor, event.at) == ("report details updated", "alice", campaign.now)
    assert "ca_owner_id" in event.detail["fields"]

    again = details.update_details(
        s,
        campaign.incident_id,
        now=campaign.now,
        who="bob",
        adds=[("relevant_policies", "CCADB policy 2.4")],
        unsets=["issuance_stopped"],
    )
    assert again["relevant_policies"] == ["TLS BR 7.1.2.7.11", "CCADB policy 2.4"]
    assert "issuance_stopped" not in again
    assert s.events(campaign.incident_id)[-1].detail["fields"] == [
        "issuance_stopped",
        "relevant_policies",
    ]


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (
            [("root_cause", "x")],
            "unknown report field 'root_cause' \\(did you mean 'root_cause_analysis'",
        ),
        ([("non_compliance_start", "2026-13-01")], "is not a date"),
        ([("non_compliance_start", "2026-11-01T10:00")], "has no time zone"),
        ([("ca_owner_id", "12345")], "not a CCADB CA Owner ID"),
        ([("issuance_stopped", "maybe")], "expected yes or no"),
        ([("source_of_disclosure", "two\nlines")], "must be one line"),
        ([("description", "   ")], "empty"),
        ([("action_items", "x")], "use 'certkeeper incident action"),
        (
            [("non_compliance_start", "2026-11-02"), ("non_compliance_end", "2026-11-01")],
            "is before non_compliance_start",
        ),
        (
            [("issuance_stopped", "no"), ("issuance_stopped_at", "2026-11-01")],
            "issuance_stopped is 'no' but",
        ),
    ],
)
def test_bad_fields_are_refused_and_nothing_changes(
    campaign: Campaign, sets: list[tuple[str, str]], message: str
) -> None:
    s = store(campaign)
    events = len(s.events(campaign.incident_id))
    with pytest.raises(InputError, match=message):
        details.update_details(s, campaign.incident_id, now=campaign.now, who="x", sets=sets)
    assert s.get(campaign.incident_id).details == {}
    assert len(s.events(campaign.incident_id)) == events


def test_a_toml_file_sets_many_fields_and_typos_are_named(
    campaign: Campaign, tmp_path: Path
) -> None:
    good = tmp_path / "details.toml"
    good.write_text(
        'ca_owner_id = "A000123"\n'
        "non_compliance_start = 2026-10-01\n"
        "non_compliance_end = 2026-11-14T09:30:00Z\n"
        "issuance_stopped = true\n"
        "issuance_stopped_at = 2026-11-14T10:00:00Z\n"
        'relevant_policies = ["TLS BR 7.1.2.7.11", "TLS BR 4.9.1.1"]\n'
        'went_well = ["The affected set was one saved query"]\n'
        'root_cause_analysis = """\nThe profile schema allowed it.\n\nNo lint checked it."""\n'
        "[[timeline]]\n"
        "at = 2026-10-01T08:00:00Z\n"
        'event = "Profile version 3 deployed"\n'
        "[[related_incidents]]\n"
        "bug = 1962829\n"
        "date = 2025-04-25\n"
        'description = "Policy document bug"\n'
    )
    result = details.update_details(
        store(campaign),
        campaign.incident_id,
        now=campaign.now,
        who="alice",
        document=details.load_document(good),
    )
    assert result["issuance_stopped"] is True
    assert result["issuance_stopped_at"] == "2026-11-14T10:00:00+00:00"
    assert result["non_compliance_start"] == "2026-10-01T00:00:00+00:00"
    assert result["related_incidents"][0]["bug"] == "1962829"
    assert result["root_cause_analysis"].startswith("The profile schema")

    typo = tmp_path / "typo.toml"
    typo.write_text('went_wel = ["x"]\n')
    with pytest.raises(InputError, match="did you mean 'went_well'"):
        details.update_details(
            store(campaign),
            campaign.incident_id,
            now=campaign.now,
            who="alice",
            document=details.load_document(typo),
        )
    broken = tmp_path / "broken.toml"
    broken.write_text("went_well = [\n")
    with pytest.raises(InputError, match="not valid TOML"):
        details.load_document(broken)
    nested = tmp_path / "nested.toml"
    nested.write_text('[[timeline]]\nat = 2026-10-01T08:00:00Z\nwhat = "x"\n')
    with pytest.raises(InputError, match="timeline: unknown key 'what'"):
        details.update_details(
            store(campaign),
            campaign.incident_id,
            now=campaign.now,
            who="alice",
            document=details.load_document(nested),
        )


def test_action_items_are_numbered_changed_and_logged(campaign: Campaign) -> None:
    s = store(campaign)
    first = details.add_action(s, campaign.incident_id, ACTION, now=campaign.now, who="alice")
    second = details.add_action(
        s, campaign.incident_id, {**ACTION, "kind": "Detect"}, now=campaign.now, who="alice"
    )
    assert (first.number, first.kind, first.status) == (
        1,
        details.Kind.Prevent,
        details.ActionStatus.not_started,
    )
    assert second.number == 2 and second.kind is details.Kind.Detect
    changed = details.set_action(
        s,
        campaign.incident_id,
        1,
        {"status": "in-progress", "due": None},
        now=campaign.now,
        who="bob",
    )
    assert changed.status is details.ActionStatus.in_progress
    assert changed.due == date(2026, 12, 15)
    items = details.actions(s.get(campaign.incident_id).details)
    assert [a.status.value for a in items] == ["In Progress", "Not Started"]
    last = s.events(campaign.incident_id)[-1]
    assert (last.event, last.actor) == ("action item changed", "bob")
    assert last.detail == {"number": 1, "status": "In Progress"}
    # report fields and action items live side by side without clobbering each other
    details.update_details(
        s, campaign.incident_id, now=campaign.now, who="alice", sets=[("ca_owner_id", "A000001")]
    )
    assert len(details.actions(s.get(campaign.incident_id).details)) == 2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "Fix"}, "use Prevent, Detect or Mitigate"),
        ({"status": "done-ish"}, "use one of Not Started"),
        ({"due": "15/12/2026"}, "is not a date"),
        ({"due": "2026-12-15T00:00:00Z"}, "is not a date"),
        ({"description": ""}, "empty"),
    ],
)
def test_bad_action_items_are_refused(
    campaign: Campaign, changes: dict[str, str], message: str
) -> None:
    s = store(campaign)
    with pytest.raises(InputError, match=message):
        details.add_action(
            s, campaign.incident_id, {**ACTION, **changes}, now=campaign.now, who="x"
        )
    assert details.actions(s.get(campaign.incident_id).details) == []


def test_changing_a_missing_action_item_is_refused(campaign: Campaign) -> None:
    s = store(campaign)
    with pytest.raises(InputError, match="has no action item 3"):
        details.set_action(
            s, campaign.incident_id, 3, {"status": "Complete"}, now=campaign.now, who="x"
        )
    details.add_action(s, campaign.incident_id, ACTION, now=campaign.now, who="x")
    with pytest.raises(InputError, match="nothing to change"):
        details.set_action(s, campaign.incident_id, 1, {"status": None}, now=campaign.now, who="x")


@given(
    st.datetimes(
        min_value=datetime(1990, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.sampled_from([UTC]),
    )
)
def test_times_round_trip_through_their_stored_form(moment: datetime) -> None:
    stored = details.normalize_value("non_compliance_start", moment.isoformat())
    assert datetime.fromisoformat(stored) == moment.replace(microsecond=0)
    assert details.normalize_value("non_compliance_start", stored) == stored


@given(st.text(max_size=30))
def test_time_parsing_never_fails_with_anything_but_an_input_error(text: str) -> None:
    try:
        details.parse_time_value("non_compliance_end", text)
    except InputError as exc:
        assert "non_compliance_end" in str(exc)
