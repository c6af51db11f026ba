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

from providers.text import clean
from tui.engine.credentials import default_reference, looks_like_key, redact_keylike

#: A rotation name: it becomes part of file names in the state dir (the lock, reports)
#: and of keychain names, so no slash, no `..` alone, no space or line break, at most 64
#: characters. `\Z`, not `$`: `$` also matches before a trailing newline ("svc\n").
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
#: One or more `<number><unit>` parts: `90d`, `36h`, `1w2d`, `2w 3d 12h` (9 digits at most).
DURATION = re.compile(r"(?:\s*\d{1,9}\s*[hdw])+\s*")
DURATION_PART = re.compile(r"(\d+)\s*([hdw])")
DURATION_UNITS = {"h": 3600, "d": 86400, "w": 7 * 86400}
#: `drain`: how long the usage report must count after the switch (minutes or hours).
DRAIN = re.compile(r"\s*(\d{1,9})\s*([mh])\s*")
#: Deployment requests per tick. At the default 2 s interval, 40 samples (20 requests a
#: second) bring the count of NEW samples the default bound needs (845 in the first ten
#: minutes of watching) in about 42 s of 100 % NEW; 20 would take 78 s, and 40 requests
#: every 2 s cost a deployment that caches its upstream check nothing upstream.
SAMPLES = 40
#: The most: 50 requests a second at the default interval is load-testing the app, not
#: sampling it (and each sample costs keyturn about 1.5 ms of CPU in httpx).
MAX_SAMPLES = 100
#: Revoke waits until at most 1 % of the traffic may still be on OLD (95 % confidence).
MAX_OLD_SHARE = 0.01

#: typing.TYPE_CHECKING without importing typing (the dashboard's first frame waits on it).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from tui.engine.destinations import Destination


class ConfigError(Exception):
    """One line for the user: file, key, problem."""


def name_problem(name: str) -> str | None:
    """Why `name` cannot name a rotation, in one line that never repeats a key-shaped
    name (a key pasted where the name goes), or None when it can."""
    if looks_like_key(name):
        return "a rotation name looks like a raw key; name it after the service"
    if not NAME.match(name):
        shown = clean(redact_keylike(repr(name)), 48)
        return (f"rotation name {shown} must be 1 to 64 letters, digits, '-', '_' or '.', "
                "starting with a letter or digit (it names files in the state dir)")
    return None


def parse_duration(text: str) -> float:
    """`90d`, `12h`, `2w`, and sums of them (`1w2d`, `2w 3d 12h`) → seconds."""
    if not DURATION.fullmatch(text):
        raise ValueError("must be a positive duration like 90d, 36h, 2w or 1w2d (h, d, w)")
    seconds = sum(int(n) * DURATION_UNITS[unit] for n, unit in DURATION_PART.findall(text))
    if seconds <= 0:
        raise ValueError("must be a positive duration like 90d, 36h, 2w or 1w2d (h, d, w)")
    return seconds


def parse_drain(text: str) -> float:
    """`10m`, `2h` → seconds (at most a day: the usage report is kept that long)."""
    m = DRAIN.fullmatch(text)
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
    #: Requests to the deployment per tick; each answer that names a key is a sample.
    samples: int = SAMPLES
    #: Revoke waits until the bound on the share of traffic still on OLD is at most this
    #: (1.0: the bound is off, the deployment streak alone decides).
    max_old_share: float = MAX_OLD_SHARE
    #: Where the app reads its key: keyturn writes NEW there (and OLD back, to undo).
    destinations: tuple[Destination, ...] = ()
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
