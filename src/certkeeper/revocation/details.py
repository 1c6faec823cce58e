"""Incident report data entered by people: CCADB report fields and action items.

The report's numbers come from the ledger; its prose (description, root cause, lessons)
and its commitments (action items) come from the CA's staff. Both are kept in the
incident's `details` JSON and every change is an incident event with its actor and
time, so the report can say who wrote what and when. Validation is strict: a typo in a
key or a date that does not parse is refused with one line naming it, because a report
filed with a silently dropped field is a report that misleads.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from certkeeper.errors import InputError
from certkeeper.store.incidents import IncidentStore
from certkeeper.tomlcheck import TomlProblem, read_toml
from certkeeper.x509.time import truncate

if TYPE_CHECKING:
    from certkeeper.revocation.incident_audit import IncidentAudit


class FieldKind(StrEnum):
    text = "text"  # one paragraph or more
    line = "line"  # one line
    time = "time"  # ISO 8601 time with zone, or a date (00:00 UTC)
    boolean = "boolean"
    lines = "lines"  # a list of one-line items
    timeline = "timeline"  # a list of {at, event}
    related = "related"  # a list of {bug, date, description}


@dataclass(frozen=True)
class Field:
    key: str
    kind: FieldKind
    label: str


# The CCADB full incident report's fields that are not computed from the inventory.
FIELDS: tuple[Field, ...] = (
    Field("ca_owner_id", FieldKind.line, "CA Owner CCADB unique ID"),
    Field("description", FieldKind.text, "Incident description"),
    Field("non_compliance_start", FieldKind.time, "Non-compliance start date"),
    Field("non_compliance_end", FieldKind.time, "Non-compliance end date"),
    Field("relevant_policies", FieldKind.lines, "Relevant policies"),
    Field("source_of_disclosure", FieldKind.line, "Source of incident disclosure"),
    Field("affected_types", FieldKind.line, "Affected certificate types"),
    Field("issuance_stopped", FieldKind.boolean, "Issuance stopped"),
    Field("issuance_stopped_at", FieldKind.time, "Issuance stopped at"),
    Field("issuance_resumed_at", FieldKind.time, "Issuance resumed at"),
    Field("issuance_explanation", FieldKind.text, "Why issuance was or was not stopped"),
    Field("analysis", FieldKind.text, "Analysis"),
    Field("additional_considerations", FieldKind.text, "Additional considerations"),
    Field("timeline", FieldKind.timeline, "Timeline entries"),
    Field("related_incidents", FieldKind.related, "Related incidents"),
    Field("root_cause_analysis", FieldKind.text, "Root cause analysis"),
    Field("rca_methodology", FieldKind.line, "Root cause analysis methodology"),
    Field("went_well", FieldKind.lines, "What went well"),
    Field("went_poorly", FieldKind.lines, "What didn't go well"),
    Field("got_lucky", FieldKind.lines, "Where we got lucky"),
    Field("lessons_additional", FieldKind.lines, "Additional lessons"),
    Field("next_update", FieldKind.time, "Next update"),
)
FIELD_BY_KEY = {f.key: f for f in FIELDS}
ACTIONS_KEY = "action_items"  # kept beside the fields; changed only by the action commands

_CA_OWNER_ID = re.compile(r"^A\d{6}$")
_MAX_TEXT = 20_000


class Kind(StrEnum):
    """CCADB action item classification."""

    Prevent = "Prevent"
    Detect = "Detect"
    Mitigate = "Mitigate"


class ActionStatus(StrEnum):
    not_started = "Not Started"
    in_progress = "In Progress"
    complete = "Complete"
    cancelled = "Cancelled"

    @property
    def open(self) -> bool:
        return self in (ActionStatus.not_started, ActionStatus.in_progress)


ACTION_FIELDS = ("description", "kind", "root_cause", "criteria", "due", "status")


@dataclass(frozen=True)
class ActionItem:
    number: int
    description: str
    kind: Kind
    root_cause: str
    criteria: str
    due: date
    status: ActionStatus

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "description": self.description,
            "kind": self.kind.value,
            "root_cause": self.root_cause,
            "criteria": self.criteria,
            "due": self.due.isoformat(),
            "status": self.status.value,
        }


# -- parsing single values ----------------------------------------------------------------


def parse_time_value(key: str, value: Any) -> datetime:
    """A datetime with a zone, or a bare date meaning 00:00 UTC; whole seconds, UTC."""
    if isinstance(value, datetime):
        moment = value
        if moment.tzinfo is None:
            raise InputError(f"{key}: time {value.isoformat()} has no time zone")
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif isinstance(value, str):
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise InputError(
                f"{key}: {value!r} is not a date (YYYY-MM-DD) or an ISO 8601 time with a zone"
            ) from None
        if moment.tzinfo is None:
            if len(text) != 10:
                raise InputError(f"{key}: time {value!r} has no time zone; add Z or an offset")
            moment = moment.replace(tzinfo=UTC)
    else:
        raise InputError(f"{key}: expected a date or time, got {type(value).__name__}")
    try:
        return truncate(moment.astimezone(UTC))
    except OverflowError:
        raise InputError(f"{key}: {value!r} is out of range") from None


def parse_date_value(key: str, value: Any) -> date:
    if isinstance(value, datetime):
        raise InputError(f"{key}: expected a date (YYYY-MM-DD), got a time")
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise InputError(f"{key}: expected a date (YYYY-MM-DD), got {type(value).__name__}")
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            raise ValueError
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"{key}: {value!r} is not a date (YYYY-MM-DD)") from None


def _parse_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("yes", "true", "y", "1"):
            return True
        if word in ("no", "false", "n", "0"):
            return False
    raise InputError(f"{key}: expected yes or no, got {value!r}")


def _text(key: str, value: Any, *, one_line: bool) -> str:
    if not isinstance(value, str):
        raise InputError(f"{key}: expected text, got {type(value).__name__}")
    text = value.strip()
    if not text:
        raise InputError(f"{key}: empty; use --unset {key} to remove it")
    if len(text) > _MAX_TEXT:
        raise InputError(f"{key}: longer than {_MAX_TEXT} characters")
    if one_line and ("\n" in text or "\r" in text):
        raise InputError(f"{key}: must be one line")
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in text.replace("\r\n", "\n")):
        raise InputError(f"{key}: contains control characters")
    return text.replace("\r\n", "\n")


def _timeline_entry(key: str, value: Any) -> dict[str, str]:
    if isinstance(value, str):
        at, sep, event = value.partition("|")
        if not sep:
            raise InputError(f"{key}: write an entry as 'TIME|what happened', got {value!r}")
        value = {"at": at, "event": event}
    if not isinstance(value, Mapping):
        raise InputError(f"{key}: expected {{at, event}} entries, got {type(value).__name__}")
    _check_keys(value, ("at", "event"), key)
    if "at" not in value or "event" not in value:
        raise InputError(f"{key}: every entry needs 'at' and 'event'")
    return {
        "at": parse_time_value(f"{key}.at", value["at"]).isoformat(),
        "event": _text(f"{key}.event", value["event"], one_line=True),
    }


def _related_entry(key: str, value: Any) -> dict[str, str]:
    if isinstance(value, str):
        parts = value.split("|", 2)
        if len(parts) != 3:
            raise InputError(
                f"{key}: write an entry as 'BUG|YYYY-MM-DD|description', got {value!r}"
            )
        value = dict(zip(("bug", "date", "description"), parts, strict=True))
    if not isinstance(value, Mapping):
        raise InputError(f"{key}: expected {{bug, date, description}} entries")
    _check_keys(value, ("bug", "date", "description"), key)
    missing = [k for k in ("bug", "date", "description") if k not in value]
    if missing:
        raise InputError(f"{key}: an entry lacks {', '.join(missing)}")
    bug = value["bug"]
    if isinstance(bug, int) and not isinstance(bug, bool):
        bug = str(bug)
    return {
        "bug": _text(f"{key}.bug", bug, one_line=True),
        "date": parse_date_value(f"{key}.date", value["date"]).isoformat(),
        "description": _text(f"{key}.description", value["description"], one_line=True),
    }


def _check_keys(table: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    for k in table:
        if k not in allowed:
            close = difflib.get_close_matches(str(k), list(allowed), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InputError(
                f"{where}: unknown key {k!r}{hint}; allowed: {', '.join(sorted(allowed))}"
            )


def field(key: str) -> Field:
    """The field named `key`, or an error naming the nearest valid key."""
    if key in FIELD_BY_KEY:
        return FIELD_BY_KEY[key]
    if key == ACTIONS_KEY:
        raise InputError(f"{key}: use 'certkeeper incident action add/set' for action items")
    close = difflib.get_close_matches(key, list(FIELD_BY_KEY), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise InputError(f"unknown report field {key!r}{hint}; known: {', '.join(FIELD_BY_KEY)}")


def normalize_value(key: str, value: Any) -> Any:
    """A field's value in its stored (JSON) form, or InputError naming the problem."""
    kind = field(key).kind
    if kind is FieldKind.line:
        text = _text(key, value, one_line=True)
        if key == "ca_owner_id" and not _CA_OWNER_ID.match(text):
            raise InputError(f"{key}: {text!r} is not a CCADB CA Owner ID (A and six digits)")
        return text
    if kind is FieldKind.text:
        return _text(key, value, one_line=False)
    if kind is FieldKind.time:
        return parse_time_value(key, value).isoformat()
    if kind is FieldKind.boolean:
        return _parse_bool(key, value)
    items = value if isinstance(value, list) else [value]
    if kind is FieldKind.lines:
        return [_text(key, v, one_line=True) for v in items]
    if kind is FieldKind.timeline:
        return sorted((_timeline_entry(key, v) for v in items), key=lambda e: e["at"])
    return [_related_entry(key, v) for v in items]


def _check_consistency(details: Mapping[str, Any]) -> None:
    start, end = details.get("non_compliance_start"), details.get("non_compliance_end")
    if start is not None and end is not None and end < start:
        raise InputError(f"non_compliance_end {end} is before non_compliance_start {start}")
    stopped, resumed = details.get("issuance_stopped_at"), details.get("issuance_resumed_at")
    if details.get("issuance_stopped") is False and stopped is not None:
        raise InputError("issuance_stopped is 'no' but issuance_stopped_at is set")
    if stopped is not None and resumed is not None and resumed < stopped:
        raise InputError(f"issuance_resumed_at {resumed} is before issuance_stopped_at {stopped}")


def validate(details: Mapping[str, Any]) -> dict[str, Any]:
    """A whole details document (fields and action items), normalized, or InputError."""
    out: dict[str, Any] = {}
    for key, value in details.items():
        if key == ACTIONS_KEY:
            out[key] = [a.to_dict() for a in actions_from(value)]
        else:
            out[key] = normalize_value(key, value)
    _check_consistency(out)
    return out


# -- changes --------------------------------------------------------------------------------


def split_assignment(text: str, option: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InputError(f"{option} {text!r}: write key=value")
    return key.strip(), value


def apply_changes(
    current: Mapping[str, Any],
    *,
    sets: Iterable[tuple[str, Any]] = (),
    adds: Iterable[tuple[str, Any]] = (),
    unsets: Iterable[str] = (),
    document: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """New details: a file's fields replace, --set replaces, --add appends to a list,
    --unset removes; the result is validated as a whole."""
    out = dict(current)
    if document is not None:
        if ACTIONS_KEY in document:
            raise InputError(
                f"{ACTIONS_KEY}: use 'certkeeper incident action add/set' for action items"
            )
        for key, value in document.items():
            out[key] = normalize_value(key, value)
    for key, value in sets:
        out[key] = normalize_value(key, value)
    for key, value in adds:
        kind = field(key).kind
        if kind not in (FieldKind.lines, FieldKind.timeline, FieldKind.related):
            raise InputError(f"--add {key}: not a list field; use --set")
        merged = list(out.get(key, [])) + normalize_value(key, value)
        out[key] = normalize_value(key, merged)
    for key in unsets:
        field(key)
        out.pop(key, None)
    return validate(out)


def load_document(path: Path) -> dict[str, Any]:
    """A details TOML file: top-level keys are report fields."""
    try:
        return read_toml(path)
    except TomlProblem as exc:
        raise InputError(str(exc)) from None


# -- action items -------------------------------------------------------------------------


def parse_kind(value: Any) -> Kind:
    for kind in Kind:
        if isinstance(value, str) and value.strip().lower() == kind.value.lower():
            return kind
    raise InputError(f"kind {value!r}: use Prevent, Detect or Mitigate")


def parse_status(value: Any) -> ActionStatus:
    if isinstance(value, str):
        wanted = re.sub(r"[\s_-]+", " ", value.strip().lower())
        for status in ActionStatus:
            if status.value.lower() == wanted:
                return status
    choices = ", ".join(s.value for s in ActionStatus)
    raise InputError(f"status {value!r}: use one of {choices}")


def action_item(number: int, values: Mapping[str, Any]) -> ActionItem:
    where = f"action item {number}"
    _check_keys(values, ("number", *ACTION_FIELDS), where)
    missing = [k for k in ACTION_FIELDS if k not in values or values[k] is None]
    if missing:
        raise InputError(f"{where}: missing {', '.join(missing)}")
    return ActionItem(
        number=number,
        description=_text(f"{where} description", values["description"], one_line=False),
        kind=parse_kind(values["kind"]),
        root_cause=_text(f"{where} root cause", values["root_cause"], one_line=True),
        criteria=_text(f"{where} evaluation criteria", values["criteria"], one_line=False),
        due=parse_date_value(f"{where} due", values["due"]),
        status=parse_status(values["status"]),
    )


def actions_from(value: Any) -> list[ActionItem]:
    if not isinstance(value, list):
        raise InputError(f"{ACTIONS_KEY}: expected a list")
    items = []
    for index, entry in enumerate(value, start=1):
        if not isinstance(entry, Mapping):
            raise InputError(f"{ACTIONS_KEY}: entry {index} is not a table")
        if entry.get("number", index) != index:
            raise InputError(f"{ACTIONS_KEY}: entry {index} is numbered {entry.get('number')}")
        items.append(action_item(index, entry))
    return items


def actions(details: Mapping[str, Any]) -> list[ActionItem]:
    return actions_from(details.get(ACTIONS_KEY, []))


# -- services -----------------------------------------------------------------------------


def update_details(
    store: IncidentStore,
    incident_id: int,
    *,
    now: datetime,
    who: str,
    sets: Sequence[tuple[str, Any]] = (),
    adds: Sequence[tuple[str, Any]] = (),
    unsets: Sequence[str] = (),
    document: Mapping[str, Any] | None = None,
    audit: IncidentAudit | None = None,
) -> dict[str, Any]:
    """Validate and store report fields; log which fields changed, by whom, when (and
    tell `audit`, the audit log)."""
    incident = store.get(incident_id)
    if not (sets or adds or unsets or document):
        raise InputError("nothing to change: give --set, --add, --unset or --from-file")
    new = apply_changes(incident.details, sets=sets, adds=adds, unsets=unsets, document=document)
    changed = sorted(
        k for k in set(new) | set(incident.details) if new.get(k) != incident.details.get(k)
    )
    if changed:
        store.update_details(incident_id, new)
        detail = {"fields": changed, "values": {k: new.get(k) for k in changed}}
        store.log(incident_id, truncate(now), who, "report details updated", detail)
        if audit is not None:
            audit("details-updated", detail)
    return new


def add_action(
    store: IncidentStore,
    incident_id: int,
    values: Mapping[str, Any],
    *,
    now: datetime,
    who: str,
    audit: IncidentAudit | None = None,
) -> ActionItem:
    incident = store.get(incident_id)
    current = actions(incident.details)
    item = action_item(len(current) + 1, values)
    _store_actions(store, incident_id, incident.details, [*current, item])
    store.log(incident_id, truncate(now), who, "action item added", item.to_dict())
    if audit is not None:
        audit("action-added", item.to_dict())
    return item


def set_action(
    store: IncidentStore,
    incident_id: int,
    number: int,
    changes: Mapping[str, Any],
    *,
    now: datetime,
    who: str,
    audit: IncidentAudit | None = None,
) -> ActionItem:
    incident = store.get(incident_id)
    current = actions(incident.details)
    if not 1 <= number <= len(current):
        raise InputError(
            f"incident {incident_id} has no action item {number} ({len(current)} action item(s))"
        )
    given = {k: v for k, v in changes.items() if v is not None}
    if not given:
        raise InputError("nothing to change: give --kind, --description, --status, ...")
    old = current[number - 1]
    item = action_item(number, {**old.to_dict(), **given})
    current[number - 1] = item
    _store_actions(store, incident_id, incident.details, current)
    changed = {k: item.to_dict()[k] for k in given if item.to_dict()[k] != old.to_dict()[k]}
    store.log(incident_id, truncate(now), who, "action item changed", {"number": number, **changed})
    if audit is not None:
        audit("action-changed", {"number": number, **changed})
    return item


def _store_actions(
    store: IncidentStore,
    incident_id: int,
    details: Mapping[str, Any],
    items: Sequence[ActionItem],
) -> None:
    store.update_details(incident_id, {**details, ACTIONS_KEY: [a.to_dict() for a in items]})
