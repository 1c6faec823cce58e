"""Profile versions: files in the CA home, versions in the inventory.

The inventory is the record: each distinct text of a profile is stored once as a new
version and never changes. The files in `profiles/` are what an operator edits;
`sync` turns an edited file into the next version. Issuance always uses the latest
stored version, and every certificate records which one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path

from certkeeper.errors import NotFound, ProfileError
from certkeeper.profiles.schema import Profile, parse_profile
from certkeeper.store.inventory import Inventory


@dataclass(frozen=True)
class SyncResult:
    profile_id: str
    version: int
    created: bool
    path: Path


def builtin_profile_sources() -> dict[str, str]:
    """The profiles shipped with certkeeper, by file name."""
    folder = resources.files("certkeeper.profiles") / "builtin"
    return {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in folder.iterdir()
        if entry.name.endswith(".toml")
    }


class ProfileRegistry:
    def __init__(self, profile_dir: Path, inventory: Inventory) -> None:
        self.profile_dir = profile_dir
        self.inventory = inventory
        self._cache: dict[tuple[str, int], Profile] = {}

    def install_builtin(self, now: datetime) -> list[SyncResult]:
        """Copy the shipped profiles into the home and record them as version 1."""
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        for name, text in sorted(builtin_profile_sources().items()):
            (self.profile_dir / name).write_text(text, encoding="utf-8")
        return self.sync(now)

    def sync(self, now: datetime) -> list[SyncResult]:
        """Validate every profile file and record each changed one as a new version.

        All files are validated before any is recorded: one broken file records nothing."""
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
                profile.id, profile.source, now
            )
            results.append(SyncResult(profile.id, version, created, path))
        return results

    @staticmethod
    def parse_file(path: Path, today: date | None = None) -> Profile:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProfileError(f"{path}: cannot read: {exc}") from None
        return parse_profile(text, str(path), today=today)

    def get(self, profile_id: str, version: int | None = None) -> Profile:
        """A stored profile version (the latest when `version` is None)."""
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

    def file_differs(self, profile_id: str) -> Path | None:
        """The profile file, if it has been edited since its latest recorded version."""
        for path in self.profile_dir.glob("*.toml"):
            try:
                profile = self.parse_file(path)
            except ProfileError:
                continue
            if profile.id == profile_id:
                _, source = self.inventory.profile_source(profile_id)
                return None if source == profile.source else path
        return None
