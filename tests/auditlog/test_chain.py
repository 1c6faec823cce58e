"""The chain itself (pure): any change to any field of any entry is found."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from certkeeper.audit_chain import GENESIS, Entry, chained, verify

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def chain(n: int) -> list[Entry]:
    entries: list[Entry] = []
    prev = GENESIS
    for i in range(n):
        entry = chained(
            i + 1, T0 + timedelta(seconds=i), "alice", "ev", f"s{i}", None, {"i": i}, prev
        )
        entries.append(entry)
        prev = entry.hash
    return entries


FIELDS = st.sampled_from(["at", "actor", "event", "subject", "serial", "detail"])


@given(n=st.integers(2, 8), data=st.data(), field=FIELDS, text=st.text(min_size=1, max_size=8))
def test_any_field_change_is_found(n: int, data: st.DataObject, field: str, text: str) -> None:
    entries = chain(n)
    i = data.draw(st.integers(0, n - 1))
    old = getattr(entries[i], field)
    if field == "at":
        new: object = old + timedelta(seconds=1)
    elif field == "detail":
        new = '{"i":' + str(len(text) + 1000) + "}"
    else:
        new = (old or "") + text
    entries[i] = replace(entries[i], **{field: new})
    result = verify(entries)
    assert [(p.seq, p.kind) for p in result.problems or []] == [(i + 1, "edited")]


@given(n=st.integers(3, 8), data=st.data())
def test_any_deletion_or_swap_is_found(n: int, data: st.DataObject) -> None:
    entries = chain(n)
    i = data.draw(st.integers(0, n - 2))
    if data.draw(st.booleans()):
        del entries[i]
    else:
        entries[i], entries[i + 1] = entries[i + 1], entries[i]
    assert not verify(entries).ok
    assert verify(chain(n)).ok
