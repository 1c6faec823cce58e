"""Profile versions: files in the CA home, versions in the inventory.

The inventory is the record: each distinct text of a profile is stored once as a new
version and never changes. The files in `profiles/` are what an operator edits;
`sync` turns an edited file into the next version. Issuance always uses the latest
stored version, and every certificate records which one.

Issuance asks `for_issuance`, the one gate every path (CLI, batch, ACME, library) passes:
it refuses a disabled profile, a profile whose file differs from (or no longer matches)
the latest stored version, and a profile with no approved version. Each version records
who made it; with `[profiles] require_approval` it is live only once a second person
approves it.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path

from certkeeper.errors import InputError, IssuanceRefused, NotFound, ProfileError
from certkeeper.profiles.schema import Profile, parse_profile
from certkeeper.store.inventory import Inventory
from certkeeper.store.profile_control import (
    DISABLE,
    ENABLE,
    ProfileControlStore,
    ProfileEvent,
    VersionRecord,
)


class ProfileUnavailable(IssuanceRefused):
    """Issuance under this profile is stopped: disabled, file out of step, or unapproved."""


@dataclass(frozen=True)
class SyncResult:
    profile_id: str
    version: int
    created: bool
    path: Path
    live: bool = True  # False: the version waits for `profile approve`


@dataclass(frozen=True)
class FileState:
    """How the profile directory stands against the latest stored version of one profile."""

    profile_id: str
    paths: tuple[Path, ...]  # the files that declare this profile id
    matches: bool  # exactly one file, with the stored text
    unreadable: tuple[Path, ...] = ()

    def problem(self, version: int) -> str | None:
        """Why issuance must wait, or None when the file is the stored version."""
        pid = self.profile_id
        if self.matches:
            return None
        if not self.paths:
            extra = ""
            if self.unreadable:
                extra = f" (unreadable: {', '.join(p.name for p in self.unreadable)})"
            return (
                f"profile {pid}: no file in the profile directory declares it{extra}; "
                f"issuance under it stopped (restore the file of v{version})"
            )
        if len(self.paths) > 1:
            names = ", ".join(p.name for p in self.paths)
            return f"profile {pid} is declared by several files ({names})"
        return (
            f"profile {pid}: {self.paths[0]} differs from the stored v{version}; "
            "run `certkeeper profile sync` to record it (or restore the file)"
        )


def builtin_profile_sources() -> dict[str, str]:
    """The profiles shipped with certkeeper, by file name."""
    folder = resources.files("certkeeper.profiles") / "builtin"
    return {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in folder.iterdir()
        if entry.name.endswith(".toml")
    }


class ProfileRegistry:
    def __init__(
        self,
        profile_dir: Path,
        inventory: Inventory,
        control: ProfileControlStore,
        *,
        require_approval: bool = False,
    ) -> None:
        self.profile_dir = profile_dir
        self.inventory = inventory
        self.require_approval = require_approval
        self.control = control
        self._cache: dict[tuple[str, int], Profile] = {}
        self._ids: dict[str, object] = {}  # sha256 of a file's text -> its id (parsed once)

    def install_builtin(self, now: datetime, actor: str | None = None) -> list[SyncResult]:
        """Copy the shipped profiles into the home and record them as version 1, live:
        the home is being created, there is nobody else to approve yet."""
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        for name, text in sorted(builtin_profile_sources().items()):
            (self.profile_dir / name).write_text(text, encoding="utf-8")
        return self._record(now, actor, live=True)

    def sync(self, now: datetime, actor: str | None = None) -> list[SyncResult]:
        """Validate every profile file and record each changed one as a new version,
        owned by `actor`; live at once unless the home requires approval.

        All files are validated before any is recorded: one broken file records nothing."""
        return self._record(now, actor, live=not self.require_approval)

    def _record(self, now: datetime, actor: str | None, *, live: bool) -> list[SyncResult]:
        files = sorted(self.profile_dir.glob("*.toml"))
        if not files:
            raise ProfileError(f"no profile files (*.toml) in {self.profile_dir}")
        parsed: list[tuple[Path, Profile]] = []
        seen: dict[str, Path] = {}
        for path in files:
            profile = self.parse_file(path, now.date())
            if profile.id in seen:
                raise ProfileError(
                    f"{path}: profile id {profile.id!r} is also used by {seen[profile.id]}"
                )
            seen[profile.id] = path
            parsed.append((path, profile))
        results = []
        for path, profile in parsed:
            version, created = self.inventory.register_profile_version(
                profile.id, profile.source, now, created_by=actor, live=live
            )
            is_live = self.control.issuance_view(profile.id).live_version == version
            results.append(SyncResult(profile.id, version, created, path, is_live))
        return results

    def stored_without_file(self) -> list[str]:
        """Stored profiles that no file declares any more: issuance under them is stopped."""
        declared = self._declared()[0]
        stored = {v.profile_id for v in self.control.versions()}
        return sorted(stored - set(declared))

    @staticmethod
    def parse_file(path: Path, today: date) -> Profile:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProfileError(f"{path}: cannot read: {exc}") from None
        return parse_profile(text, str(path), today=today)

    def get(self, profile_id: str, version: int | None = None) -> Profile:
        """A stored profile version (the latest when `version` is None)."""
        if version is not None and (profile_id, version) in self._cache:
            return self._cache[(profile_id, version)]  # a stored version never changes
        try:
            stored_version, source = self.inventory.profile_source(profile_id, version)
        except NotFound:
            known = sorted({pid for pid, _, _ in self.inventory.profile_versions()})
            wanted = profile_id if version is None else f"{profile_id} version {version}"
            raise NotFound(
                f"unknown profile {wanted!r}; known profiles: {', '.join(known) or 'none'}"
            ) from None
        key = (profile_id, stored_version)
        if key not in self._cache:
            self._cache[key] = parse_profile(
                source, f"profile {profile_id} v{stored_version}", stored_version, historic=True
            )
        return self._cache[key]

    # -- the issuance gate -----------------------------------------------------------

    def for_issuance(self, profile_id: str) -> Profile:
        """The version issuance must use now, or ProfileUnavailable saying why not.

        Read from the database and the profile directory on every call, so disabling a
        profile or editing its file stops every running path at its next certificate."""
        try:
            view = self.control.issuance_view(profile_id)
        except NotFound:
            return self.get(profile_id)  # raises NotFound naming the known profiles
        if view.state is not None and view.state.disabled:
            ev = view.state
            raise ProfileUnavailable(
                f"profile {profile_id} is disabled (since {ev.at.isoformat()} by {ev.actor}: "
                f"{ev.reason}); `certkeeper profile enable {profile_id}` restarts issuance"
            )
        problem = self.file_state(profile_id, view.latest.sha256).problem(view.latest.version)
        if problem is not None:
            raise ProfileUnavailable(problem)
        if view.live_version is None:
            raise ProfileUnavailable(
                f"profile {profile_id} has no approved version: v{view.latest.version} waits "
                f"for `certkeeper profile approve {profile_id} --version "
                f"{view.latest.version}` by someone other than {view.latest.created_by}"
            )
        return self.get(profile_id, view.live_version)

    def file_state(self, profile_id: str, stored_sha256: str) -> FileState:
        declared, unreadable = self._declared()
        files = declared.get(profile_id, [])
        matches = len(files) == 1 and files[0][1] == stored_sha256
        return FileState(profile_id, tuple(p for p, _ in files), matches, tuple(unreadable))

    def _declared(self) -> tuple[dict[str, list[tuple[Path, str]]], list[Path]]:
        """Profile id -> [(file, sha256 of its text)], and the files that cannot be read.

        Only the id is parsed (full validation is `sync`'s job): this runs per issuance."""
        declared: dict[str, list[tuple[Path, str]]] = {}
        unreadable: list[Path] = []
        for path in sorted(self.profile_dir.glob("*.toml")):
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                unreadable.append(path)
                continue
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
            if digest not in self._ids:
                try:
                    self._ids[digest] = tomllib.loads(text).get("id")
                except tomllib.TOMLDecodeError:
                    self._ids[digest] = None
            pid = self._ids[digest]
            if not isinstance(pid, str):
                unreadable.append(path)
                continue
            declared.setdefault(pid, []).append((path, digest))
        return declared, unreadable

    # -- owners, approval, disabling ---------------------------------------------------

    def versions(self, profile_id: str | None = None) -> list[VersionRecord]:
        return self.control.versions(profile_id)

    def states(self) -> dict[str, ProfileEvent]:
        return self.control.states()

    def approve(self, profile_id: str, version: int, actor: str, now: datetime) -> None:
        """Make a waiting version live. The approver must not be the version's author."""
        record = self._version_record(profile_id, version)
        if record.approved:
            by = f" by {record.approved_by}" if record.approved_by else ""
            raise InputError(f"profile {profile_id} v{version} is already approved{by}")
        if record.created_by is None or record.created_by == actor:
            raise InputError(
                f"profile {profile_id} v{version} was recorded by {record.created_by}; "
                "a different person must approve it"
            )
        if not self.control.approve(profile_id, version, actor, now):
            raise InputError(f"profile {profile_id} v{version} was approved meanwhile")

    def disable(
        self,
        profile_id: str,
        reason: str,
        actor: str,
        now: datetime,
        incident_id: int | None = None,
    ) -> ProfileEvent:
        """Stop issuance under every version of the profile, effective at once."""
        return self._set_state(profile_id, DISABLE, reason, actor, now, incident_id)

    def enable(self, profile_id: str, reason: str, actor: str, now: datetime) -> ProfileEvent:
        return self._set_state(profile_id, ENABLE, reason, actor, now, None)

    def _set_state(
        self,
        profile_id: str,
        action: str,
        reason: str,
        actor: str,
        now: datetime,
        incident_id: int | None,
    ) -> ProfileEvent:
        self.get(profile_id)  # unknown profiles are named, not silently recorded
        if not reason.strip():
            raise InputError(f"--reason: say why profile {profile_id} is being {action}d")
        current = self.control.states().get(profile_id)
        if (current is not None and current.action == action) or (
            current is None and action == ENABLE
        ):
            raise InputError(f"profile {profile_id} is already {action}d")
        at = now.replace(microsecond=0)
        event = ProfileEvent(profile_id, action, reason.strip(), actor, at, incident_id)
        self.control.record_event(event)
        return event

    def _version_record(self, profile_id: str, version: int) -> VersionRecord:
        for record in self.control.versions(profile_id):
            if record.version == version:
                return record
        self.get(profile_id, version)  # raises NotFound with the known profiles
        raise NotFound(f"no stored profile {profile_id!r} version {version}")
