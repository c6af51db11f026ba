"""What the engine runs: a Rotation with its defaults applied, and the Config around it.

Plain dataclasses, so the demo and the dashboard start without loading pydantic. The
file's schema (pydantic) is `config_schema.py` and reading a file is `config_file.py`;
both depend on this module, never the other way round.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from tui.engine.credentials import default_reference, redact_keylike

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DURATION = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")
DURATION_UNITS = {"h": 3600, "d": 86400, "w": 7 * 86400}
#: `drain`: how long the usage report must count after the switch (minutes, hours).
DRAIN = re.compile(r"^\s*(\d+)\s*([mh])\s*$")


class ConfigError(Exception):
    """One line for the user: file, key, problem."""


def parse_duration(text: str) -> float:
    """`90d`, `12h`, `2w` → seconds."""
    m = DURATION.match(text)
    if not m or int(m.group(1)) <= 0:
        raise ValueError("must be a positive duration like 90d, 12h or 2w")
    return int(m.group(1)) * DURATION_UNITS[m.group(2)]


def parse_drain(text: str) -> float:
    """`10m`, `2h` → seconds (at most a day: the usage report is kept that long)."""
    m = DRAIN.match(text)
    seconds = int(m.group(1)) * (60 if m.group(2) == "m" else 3600) if m else 0
    if not 0 < seconds <= 86400:
        raise ValueError("must be a duration from 1m to 24h, like 10m or 1h")
    return seconds


@dataclass(frozen=True)
class Rotation:
    """One rotation with defaults applied: what the engine runs."""

    name: str
    provider: str
    old: str
    new: str
    admin: str
    admin_explicit: bool
    deployment: str | None
    base_url: str | None
    project_id: str | None
    rotate_every: str | None
    interval: float
    timeout: float
    streak: int
    indeterminate: str
    #: How long the provider's usage report must count after the switch, with no OLD use,
    #: before Revoke unlocks (`10m`); None: no wait (the report still locks on OLD use).
    drain: str | None = None

    @property
    def rotate_every_seconds(self) -> float | None:
        return parse_duration(self.rotate_every) if self.rotate_every else None

    @property
    def drain_seconds(self) -> float:
        return parse_drain(self.drain) if self.drain else 0.0

    def uses_default_slots(self) -> bool:
        """Keys held in the keychain under keyturn's own names (promotable after a rotation)."""
        return self.old == default_reference(self.name, "old") and self.new == default_reference(
            self.name, "new"
        )


@dataclass(frozen=True)
class Config:
    """A loaded config file: its path, its rotations, where the record is kept."""

    path: Path
    rotations: dict[str, Rotation]
    state_dir: Path

    def rotation(self, name: str) -> Rotation:
        try:
            return self.rotations[name]
        except KeyError:
            known = ", ".join(sorted(self.rotations)) or "none configured"
            shown = redact_keylike(repr(name))  # a key typed as the rotation is not echoed
            raise ConfigError(f"{self.path}: no rotation named {shown} (known: {known})") from None


def default_config_path() -> Path:
    from platformdirs import user_config_path

    return user_config_path("keyturn", appauthor=False) / "keyturn.toml"


def default_state_dir() -> Path:
    from platformdirs import user_state_path

    return user_state_path("keyturn", appauthor=False)


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`--config PATH`, else `KEYTURN_CONFIG`, else the platformdirs default."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("KEYTURN_CONFIG")
    return Path(env) if env else default_config_path()
