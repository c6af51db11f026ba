"""The config file's schema, validated with pydantic (imported only to validate a file).

Unknown keys are errors; values a user can get wrong carry a message that names the
problem without repeating a value that may be a pasted key.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from providers import PROVIDER_NAMES
from tui.engine.config import (
    MAX_OLD_SHARE,
    MAX_SAMPLES,
    SAMPLES,
    name_problem,
    parse_drain,
    parse_duration,
)
from tui.engine.credentials import check_reference
from tui.engine.destination_schema import DestinationConfig

#: Seconds between probes of one target. At least 0.2 s: a rotation probes up to three
#: targets, so at most 15 requests a second reach the provider and the deployment; a
#: smaller interval (1e-6 was accepted) is thousands a second, a flood that gets the
#: keys rate-limited and says nothing a streak at 0.2 s does not. At most an hour.
Interval = Annotated[float, Field(ge=0.2, le=3600, allow_inf_nan=False)]
#: Seconds one probe may take. At least 0.1 s: below that a TLS handshake cannot finish,
#: every answer is a timeout and the gate can never open. Also below the interval.
Timeout = Annotated[float, Field(ge=0.1, le=3600, allow_inf_nan=False)]
Streak = Annotated[int, Field(ge=1, le=1000, strict=True)]
#: The longest rotate_every: ten years. A longer one is no policy, and its due date
#: would not fit in a date (status would fail computing it).
ROTATE_EVERY_MAX = 3650 * 86400
Policy = Literal["reset", "hold"]
#: The provider names providers/__init__.py knows, and no others.
ProviderName = Literal[PROVIDER_NAMES]  # type: ignore[valid-type]
Samples = Annotated[int, Field(ge=1, le=MAX_SAMPLES, strict=True)]


def _share(value: float) -> float:
    if not 0 < value <= 1:
        # `max_old_share = 1` meant as 1 % turns the bound off; 5 meant as 5 % is refused here.
        raise ValueError(
            "must be a share above 0 and at most 1 (0.01 is 1 %; 1 turns the bound off)")
    return value


#: A share, not a percentage: 0.01 is 1 %; 1.0 turns the bound off.
Share = Annotated[float, Field(strict=True, allow_inf_nan=False), AfterValidator(_share)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Defaults(_Strict):
    interval: Interval = 2.0
    timeout: Timeout = 1.5
    streak: Streak = 5
    #: What an indeterminate result does to a streak: break it (reset) or leave it (hold).
    indeterminate: Policy = "reset"
    #: Requests to the deployment per tick (each answer naming a key is a sample).
    samples: Samples = SAMPLES
    #: Revoke waits until the bound on the share of traffic still on OLD is at most this.
    max_old_share: Share = MAX_OLD_SHARE


LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def _check_url(value: str | None, *, root: bool = False) -> str | None:
    """An http(s) URL with a host and a valid port; a `root` (base_url) has no query."""
    if value is None:
        return None
    problem = "must be an http:// or https:// URL"
    if value != value.strip() or any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError(problem + " (no spaces or control characters)")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError:
        raise ValueError(problem + " with a valid host and port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(problem)
    if root and (parts.query or parts.fragment):
        raise ValueError("must not have a query or fragment (paths are appended to it)")
    if root and parts.scheme == "http" and parts.hostname not in LOOPBACK:
        # base_url receives the keys: over plain http anyone on the path reads them
        # (even a provider that redirects to https has seen the key by then).
        raise ValueError("must be https:// (keys are sent to it); http:// only for localhost")
    return value


class RotationConfig(_Strict):
    provider: ProviderName
    old: str | None = None
    new: str | None = None
    admin: str | None = None
    deployment: str | None = None
    base_url: str | None = None
    project_id: str | None = None
    rotate_every: str | None = None
    interval: Interval | None = None
    timeout: Timeout | None = None
    streak: Streak | None = None
    indeterminate: Policy | None = None
    samples: Samples | None = None
    max_old_share: Share | None = None
    #: Where the app reads its key (`[[rotations.NAME.destinations]]`).
    destinations: list[DestinationConfig] = []
    #: Wait until the provider's usage report has counted this long after the switch.
    drain: str | None = None

    @field_validator("old", "new", "admin")
    @classmethod
    def _reference(cls, value: str | None) -> str | None:
        if value is None:
            return None
        problem = check_reference(value)
        if problem:
            # The value itself may be a pasted key: the message never repeats it.
            raise ValueError(problem)
        return value

    @field_validator("deployment")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _check_url(value)

    @field_validator("base_url")
    @classmethod
    def _root(cls, value: str | None) -> str | None:
        return _check_url(value, root=True)

    @field_validator("rotate_every")
    @classmethod
    def _every(cls, value: str | None) -> str | None:
        if value is not None and parse_duration(value) > ROTATE_EVERY_MAX:
            raise ValueError("must be at most 3650d (ten years)")
        return value

    @field_validator("drain")
    @classmethod
    def _drain(cls, value: str | None) -> str | None:
        if value is not None:
            parse_drain(value)
        return value


class FileConfig(_Strict):
    defaults: Defaults = Defaults()
    rotations: dict[str, RotationConfig] = {}
    #: Where the audit log and reports go (default: the user state dir).
    state_dir: str | None = None

    @field_validator("rotations", mode="before")
    @classmethod
    def _names(cls, rotations: object) -> object:
        # Before the tables are validated: a table named after a key is refused as that,
        # not reported as `rotations.sk-…: provider missing`.
        for name in rotations if isinstance(rotations, dict) else ():
            # A key pasted as a table name is refused, and never repeated.
            problem = name_problem(str(name))
            if problem:
                raise ValueError(problem)
        return rotations
